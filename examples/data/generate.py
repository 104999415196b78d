#!/usr/bin/env python3
"""Writes the sample data set (customers.ndjson, orders.ndjson) deterministically.

The data is invented here: a small bookshop with customers in a few cities and their orders.
Run `python3 examples/data/generate.py` from the repository root to regenerate; the output is
checked in, so nobody needs to.
"""

import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20240601)

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia",
         "John", "Margaret", "Niklaus", "Sophie", "Tim", "Hedy", "Linus", "Karen", "Dennis"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Perlman", "Backus", "Hamilton", "Wirth", "Wilson", "Lee", "Lamarr", "Torvalds",
        "Jones", "Ritchie"]
CITIES = [("Paris", "FR"), ("Lyon", "FR"), ("Berlin", "DE"), ("Hamburg", "DE"),
          ("London", "GB"), ("Leeds", "GB"), ("Oslo", "NO"), ("Madrid", "ES")]
BOOKS = [("The Art of Computer Programming", 189.0), ("Structure and Interpretation", 54.5),
         ("Compilers", 92.0), ("Database Internals", 48.0), ("Designing Data-Intensive Apps", 42.9),
         ("The Rust Programming Language", 39.0), ("Algorithms", 79.9), ("Clean Architecture", 31.5),
         ("Operating Systems", 65.0), ("Refactoring", 44.0), ("The Pragmatic Programmer", 38.0),
         ("Types and Programming Languages", 71.0)]
STATUSES = ["shipped", "shipped", "shipped", "delivered", "delivered", "pending", "cancelled"]


def customers(n):
    out = []
    for i in range(1, n + 1):
        city, country = rng.choice(CITIES)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        out.append({
            "_id": i,
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{i}@example.com",
            "address": {"city": city, "country": country},
            "since": 2015 + rng.randrange(10),
            "vip": rng.random() < 0.15,
        })
    return out


def orders(n, n_customers):
    out = []
    for i in range(1, n + 1):
        lines = []
        for _ in range(rng.randint(1, 4)):
            title, price = rng.choice(BOOKS)
            lines.append({"title": title, "qty": rng.randint(1, 3), "price": price})
        total = round(sum(l["qty"] * l["price"] for l in lines), 2)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        out.append({
            "_id": 1000 + i,
            "customer": rng.randint(1, n_customers),
            "status": rng.choice(STATUSES),
            "date": {"$date": f"2024-{month:02d}-{day:02d}T{rng.randint(8, 20):02d}:00:00Z"},
            "lines": lines,
            "total": total,
        })
    return out


def write(name, docs):
    with open(os.path.join(HERE, name), "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write("customers.ndjson", customers(120))
    write("orders.ndjson", orders(400, 120))
