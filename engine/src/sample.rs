//! A deterministic sample sales dataset: employees, customers with nested addresses, vendors,
//! products and orders with nested line items. The same seed always gives the same documents
//! (a private SplitMix64 generator, no external files), so tests and the quickstart can rely on
//! it.
//!
//! The data is plausible rather than uniform and deliberately exercises the value model: missing
//! and null fields, numbers stored as int32, int64 and double in the same field, integers beyond
//! 2^53, strings that look like numbers, ObjectIds, datetimes, arrays and sub-documents.
//!
//! ```
//! let data = shinydb_engine::sample::generate(42);
//! assert_eq!(data.orders.len(), 3806);
//! ```

use bson::oid::ObjectId;
use bson::{Bson, DateTime, Document, doc};

/// How many documents of each kind to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSizes {
    /// Orders (the default is 3,806).
    pub orders: usize,
    /// Customers.
    pub customers: usize,
    /// Products.
    pub products: usize,
    /// Vendors.
    pub vendors: usize,
}

impl Default for SampleSizes {
    fn default() -> Self {
        SampleSizes {
            orders: 3806,
            customers: 640,
            products: 295,
            vendors: 42,
        }
    }
}

/// The generated stores (each in `_id` order).
#[derive(Debug, Clone, PartialEq)]
pub struct SampleData {
    /// `sales.employees`: 17 sales people, `_id` 274..=290 (int32).
    pub employees: Vec<Document>,
    /// `sales.customers`: `_id` from 11000 (int32), nested `Address`.
    pub customers: Vec<Document>,
    /// `sales.vendors`: `_id` is an ObjectId.
    pub vendors: Vec<Document>,
    /// `sales.products`: `_id` from 700 (int32).
    pub products: Vec<Document>,
    /// `sales.orders`: `_id` from 43659 (int32), nested `ShipAddress` and `LineItems`.
    pub orders: Vec<Document>,
}

impl SampleData {
    /// The documents of a store by name (`employees`, `customers`, `vendors`, `products`,
    /// `orders`).
    pub fn store(&self, name: &str) -> Option<&[Document]> {
        match name {
            "employees" => Some(&self.employees),
            "customers" => Some(&self.customers),
            "vendors" => Some(&self.vendors),
            "products" => Some(&self.products),
            "orders" => Some(&self.orders),
            _ => None,
        }
    }
}

/// The default-sized dataset for `seed`.
pub fn generate(seed: u64) -> SampleData {
    generate_with(seed, SampleSizes::default())
}

/// A dataset of the given sizes for `seed`.
pub fn generate_with(seed: u64, sizes: SampleSizes) -> SampleData {
    let mut rng = Rng(seed ^ 0x5348_494e_5944_4221);
    let employees = employees(&mut rng);
    let customers = customers(&mut rng, sizes.customers);
    let vendors = vendors(&mut rng, sizes.vendors);
    let vendor_ids: Vec<Bson> = vendors
        .iter()
        .filter_map(|v| v.get("_id").cloned())
        .collect();
    let products = products(&mut rng, sizes.products, &vendor_ids);
    let prices: Vec<(i32, f64)> = products
        .iter()
        .filter_map(|p| Some((p.get_i32("_id").ok()?, p.get_f64("ListPrice").ok()?)))
        .collect();
    let orders = orders(&mut rng, sizes.orders, sizes.customers, &prices);
    SampleData {
        employees,
        customers,
        vendors,
        products,
        orders,
    }
}

/// SplitMix64: small, fast and fully determined by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next().checked_rem(n).unwrap_or(0)
    }

    fn index(&mut self, n: usize) -> usize {
        usize::try_from(self.below(n as u64)).unwrap_or(0)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let i = self.index(items.len());
        items.get(i).copied().unwrap_or_default()
    }

    /// Cents in `lo..hi` dollars, as a double with two decimals.
    fn money(&mut self, lo: u64, hi: u64) -> f64 {
        let cents = lo * 100 + self.below((hi - lo).max(1) * 100);
        cents as f64 / 100.0
    }

    /// A datetime between 2023-01-01 and 2025-12-31.
    fn date(&mut self) -> DateTime {
        const START: i64 = 1_672_531_200_000; // 2023-01-01T00:00:00Z
        const DAYS: u64 = 1095;
        let day = i64::try_from(self.below(DAYS)).unwrap_or(0);
        let minute = i64::try_from(self.below(24 * 60)).unwrap_or(0);
        DateTime::from_millis(START + day * 86_400_000 + minute * 60_000)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

const FIRST: &[&str] = &[
    "Linda", "Jillian", "Michael", "Jae", "Ranjit", "Shu", "José", "David", "Tete", "Garrett",
    "Pamela", "Tsvi", "Amy", "Rachel", "Lynn", "Syed", "Stephen", "Ana", "Kim", "Ruth",
];
const LAST: &[&str] = &[
    "Mitchell",
    "Carson",
    "Blythe",
    "Pak",
    "Varkey",
    "Ito",
    "Saraiva",
    "Campbell",
    "Mensa-Annan",
    "Vargas",
    "Ansman-Wolfe",
    "Reiter",
    "Alberts",
    "Valdez",
    "Tsoflias",
    "Abbas",
    "Jiang",
    "Miller",
    "Nguyen",
    "O'Brien",
];
/// (city, state, postal prefix)
const CITIES: &[(&str, &str, &str)] = &[
    ("Austin", "TX", "787"),
    ("Dallas", "TX", "752"),
    ("Houston", "TX", "770"),
    ("Los Angeles", "CA", "900"),
    ("San Diego", "CA", "921"),
    ("San Francisco", "CA", "941"),
    ("Seattle", "WA", "981"),
    ("Spokane", "WA", "992"),
    ("Portland", "OR", "972"),
    ("Denver", "CO", "802"),
    ("Chicago", "IL", "606"),
    ("New York", "NY", "100"),
    ("Boston", "MA", "021"),
    ("Miami", "FL", "331"),
    ("Atlanta", "GA", "303"),
];
const STREETS: &[&str] = &[
    "Main St",
    "Oak Ave",
    "Pine Rd",
    "Maple Dr",
    "Cedar Ln",
    "Elm St",
    "Lake View Blvd",
];

fn address(rng: &mut Rng, with_street: bool) -> Document {
    let i = rng.index(CITIES.len());
    let (city, state, zip) = CITIES.get(i).copied().unwrap_or(("Austin", "TX", "787"));
    let mut d = Document::new();
    if with_street {
        d.insert(
            "Street",
            format!("{} {}", 100 + rng.below(9800), rng.pick(STREETS)),
        );
    }
    d.insert("City", city);
    d.insert("State", state);
    d.insert("PostalCode", format!("{zip}{:02}", rng.below(100)));
    d
}

fn employees(rng: &mut Rng) -> Vec<Document> {
    (274..=290)
        .map(|id: i32| {
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let (title, manager) = match id {
                274 => ("Vice President of Sales", Bson::Null),
                275 | 285 => ("Sales Manager", Bson::Int32(274)),
                _ => (
                    "Sales Representative",
                    Bson::Int32(if id < 285 { 275 } else { 285 }),
                ),
            };
            let mut d = doc! {
                "_id": id,
                "FirstName": first,
                "LastName": last,
                "FullName": format!("{first} {last}"),
                "JobTitle": title,
                "HireDate": rng.date(),
                "Salary": round2(48_000.0 + rng.below(60_000) as f64 + 0.5),
                "ManagerID": manager,
                "Territory": rng.pick(&["Northwest", "Southwest", "Central", "Northeast", "Southeast"]),
                "CommissionPct": ([0.01, 0.012, 0.015, 0.019, 0.02].get(rng.index(5)).copied().unwrap_or(0.01)),
                "Active": id != 279,
            };
            if id % 4 == 0 {
                d.insert("Quota", Bson::Int64(250_000 + 50_000 * i64::from(id % 7)));
            }
            d
        })
        .collect()
}

fn customers(rng: &mut Rng, n: usize) -> Vec<Document> {
    let tags = ["retail", "wholesale", "vip", "new", "online", "b2b"];
    (0..n)
        .map(|i| {
            let id = 11_000 + i32::try_from(i).unwrap_or(0);
            let first = rng.pick(FIRST);
            let last = rng.pick(LAST);
            let mut d = doc! {
                "_id": id,
                "FirstName": first,
                "LastName": last,
                "FullName": format!("{first} {last}"),
            };
            match rng.below(20) {
                0 => {}
                1 => {
                    d.insert("Email", Bson::Null);
                }
                _ => {
                    d.insert(
                        "Email",
                        format!(
                            "{}.{}{}@example.com",
                            first.to_lowercase(),
                            last.to_lowercase(),
                            i
                        ),
                    );
                }
            }
            d.insert(
                "Phone",
                format!("{}-555-{:04}", 200 + rng.below(700), rng.below(10_000)),
            );
            d.insert("Address", address(rng, true));
            d.insert("CreatedAt", rng.date());
            // Loyalty points: int32 mostly, int64 beyond 2^53 for a few big accounts.
            let points = match rng.below(50) {
                0 => Bson::Int64((1_i64 << 53) + i64::try_from(rng.below(3)).unwrap_or(0)),
                1 => Bson::Double((1_u64 << 53) as f64),
                2..=9 => Bson::Int64(i64::try_from(rng.below(5_000_000_000)).unwrap_or(0)),
                _ => Bson::Int32(i32::try_from(rng.below(20_000)).unwrap_or(0)),
            };
            d.insert("Points", points);
            let k = rng.index(3);
            let t: Vec<Bson> = (0..k).map(|_| Bson::from(rng.pick(&tags))).collect();
            d.insert("Tags", t);
            d.insert(
                "AccountId",
                ObjectId::from_bytes(oid_bytes(0xC0, u64::try_from(i).unwrap_or(0))),
            );
            d.insert("Preferred", rng.chance(30));
            if rng.chance(60) {
                d.insert("Loyalty Tier", rng.pick(&["Gold", "Silver", "Bronze"]));
            }
            d
        })
        .collect()
}

fn oid_bytes(tag: u8, n: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[0] = 0x65;
    b[1] = tag;
    b[4..12].copy_from_slice(&n.to_be_bytes());
    b
}

fn vendors(rng: &mut Rng, n: usize) -> Vec<Document> {
    let words = [
        "Advanced",
        "Bike",
        "Chain",
        "Comfort",
        "Compete",
        "Custom",
        "Electronic",
        "Frames",
        "Gear",
        "Hill",
        "Image",
        "Integrated",
        "Jackson",
        "Leaf",
        "Light",
        "Metro",
        "Mountain",
        "National",
        "Pro",
        "Sport",
        "Team",
        "Trail",
        "Wide",
        "World",
    ];
    let suffix = [
        "Bikes",
        "Inc.",
        "Company",
        "Sports",
        "Works",
        "Corporation",
        "Supply",
    ];
    (0..n)
        .map(|i| {
            let name = format!(
                "{} {} {}",
                rng.pick(&words),
                rng.pick(&words),
                rng.pick(&suffix)
            );
            let mut d = doc! {
                "_id": ObjectId::from_bytes(oid_bytes(0x7e, u64::try_from(i).unwrap_or(0))),
                "Name": name,
                "AccountNumber": format!("VEND{:04}", 1000 + i),
                "CreditRating": i32::try_from(1 + rng.below(5)).unwrap_or(1),
                "PreferredVendor": rng.chance(70),
                "ActiveFlag": rng.chance(90),
                "Address": address(rng, false),
            };
            d.insert(
                "WebsiteURL",
                if rng.chance(25) {
                    Bson::Null
                } else {
                    Bson::String(format!("https://vendor{i}.example.com"))
                },
            );
            // A score that is sometimes NaN or infinite, to exercise the number order.
            d.insert(
                "Score",
                match i {
                    3 => Bson::Double(f64::NAN),
                    7 => Bson::Double(f64::INFINITY),
                    _ => Bson::Double(round2(rng.below(1000) as f64 / 10.0)),
                },
            );
            d
        })
        .collect()
}

fn products(rng: &mut Rng, n: usize, vendor_ids: &[Bson]) -> Vec<Document> {
    let lines = [
        ("Road", "Bikes", "Road Bikes", "BK-R"),
        ("Mountain", "Bikes", "Mountain Bikes", "BK-M"),
        ("Touring", "Bikes", "Touring Bikes", "BK-T"),
        ("HL Road Frame", "Components", "Road Frames", "FR-R"),
        ("ML Mountain Frame", "Components", "Mountain Frames", "FR-M"),
        ("Sport Helmet", "Accessories", "Helmets", "HL-U"),
        ("Water Bottle", "Accessories", "Bottles and Cages", "WB-H"),
        ("Classic Vest", "Clothing", "Vests", "VE-C"),
        ("Long-Sleeve Logo Jersey", "Clothing", "Jerseys", "LJ-0"),
        ("Road Tire Tube", "Accessories", "Tires and Tubes", "TT-R"),
    ];
    let colors = ["Red", "Black", "Silver", "Blue", "Yellow", "Multi"];
    let sizes = ["S", "M", "L", "XL"];
    (0..n)
        .map(|i| {
            let id = 700 + i32::try_from(i).unwrap_or(0);
            let (line, category, sub, code) = lines
                .get(rng.index(lines.len()))
                .copied()
                .unwrap_or(("Road", "Bikes", "Road Bikes", "BK-R"));
            let color = rng.pick(&colors);
            let bike = category == "Bikes";
            let model = 100 * (1 + rng.below(10));
            let size_num = 38 + 2 * i32::try_from(rng.below(12)).unwrap_or(0);
            let size_txt = rng.pick(&sizes);
            let name = if bike {
                format!("{line}-{model} {color}, {size_num}")
            } else if category == "Clothing" {
                format!("{line}, {size_txt}")
            } else {
                format!("{line} - {color}")
            };
            let price = if bike {
                rng.money(500, 3600)
            } else if category == "Components" {
                rng.money(150, 1400)
            } else {
                rng.money(3, 120)
            };
            let mut d = doc! {
                "_id": id,
                "ProductName": name,
                "ProductNumber": format!("{code}{:03}-{}", i, size_num),
                "ListPrice": price,
                "StandardCost": round2(price * 0.55),
                "Category": category,
                "SubCategory": sub,
            };
            match rng.below(10) {
                0 => {}
                1 => {
                    d.insert("Color", Bson::Null);
                }
                _ => {
                    d.insert("Color", color);
                }
            }
            if bike || category == "Components" {
                d.insert("Size", size_num);
                d.insert("Weight", round2(7.0 + rng.below(1500) as f64 / 100.0));
            } else if category == "Clothing" {
                d.insert("Size", size_txt);
            }
            // Rating: int, double or a string, in one field.
            let rating = match rng.below(10) {
                0 => Bson::String("n/a".into()),
                1..=4 => Bson::Int32(i32::try_from(1 + rng.below(5)).unwrap_or(1)),
                5 => Bson::Int64(i64::try_from(1 + rng.below(5)).unwrap_or(1)),
                _ => {
                    Bson::Double(f64::from(i32::try_from(10 + rng.below(41)).unwrap_or(10)) / 10.0)
                }
            };
            d.insert("Rating", rating);
            if let Some(v) = vendor_ids.get(rng.index(vendor_ids.len())) {
                d.insert("VendorID", v.clone());
            }
            d.insert("SellStartDate", rng.date());
            d.insert("Discontinued", rng.chance(12));
            d
        })
        .collect()
}

fn orders(rng: &mut Rng, n: usize, customers: usize, prices: &[(i32, f64)]) -> Vec<Document> {
    (0..n)
        .map(|i| {
            let id = 43_659 + i32::try_from(i).unwrap_or(0);
            let customer = 11_000 + i32::try_from(rng.below(customers.max(1) as u64)).unwrap_or(0);
            let online = rng.chance(35);
            let mut d = doc! {
                "_id": id,
                "OrderDate": rng.date(),
                "CustomerID": customer,
            };
            // Online orders mostly have no sales person: missing or null.
            if !online || rng.chance(20) {
                let skewed = if rng.chance(30) {
                    289
                } else {
                    274 + i32::try_from(rng.below(17)).unwrap_or(0)
                };
                d.insert("EmployeeID", skewed);
            } else if rng.chance(40) {
                d.insert("EmployeeID", Bson::Null);
            }
            d.insert("Status", i32::try_from(1 + rng.below(5)).unwrap_or(1));
            d.insert("OnlineOrder", online);
            let k = 1 + rng.index(if online { 3 } else { 6 });
            let mut subtotal_cents: i64 = 0;
            let items: Vec<Bson> = (0..k)
                .map(|_| {
                    let (pid, price) = prices
                        .get(rng.index(prices.len()))
                        .copied()
                        .unwrap_or((700, 9.99));
                    let qty =
                        i32::try_from(1 + rng.below(if online { 2 } else { 12 })).unwrap_or(1);
                    let line_cents = (price * 100.0).round() as i64 * i64::from(qty);
                    subtotal_cents += line_cents;
                    Bson::Document(doc! {
                        "ProductID": pid,
                        "Quantity": qty,
                        "UnitPrice": price,
                        "LineTotal": line_cents as f64 / 100.0,
                    })
                })
                .collect();
            let tax_cents = subtotal_cents * 8 / 100;
            let freight_cents = subtotal_cents / 40;
            let total_cents = subtotal_cents + tax_cents + freight_cents;
            d.insert("SubTotal", subtotal_cents as f64 / 100.0);
            d.insert("TaxAmt", tax_cents as f64 / 100.0);
            d.insert("Freight", freight_cents as f64 / 100.0);
            // TotalDue is a double, but whole amounts are sometimes stored as integers.
            let total = if total_cents % 100 == 0 && rng.chance(50) {
                if rng.chance(50) {
                    Bson::Int32(i32::try_from(total_cents / 100).unwrap_or(0))
                } else {
                    Bson::Int64(total_cents / 100)
                }
            } else {
                Bson::Double(total_cents as f64 / 100.0)
            };
            d.insert("TotalDue", total);
            d.insert("ShipAddress", address(rng, true));
            d.insert("LineItems", items);
            if rng.chance(15) {
                d.insert(
                    "Comment",
                    rng.pick(&[
                        "Rush order",
                        "Gift wrap",
                        "Leave at door",
                        "Call before delivery",
                        "rush ORDER",
                    ]),
                );
            }
            d.insert(
                "PurchaseOrderNumber",
                if online {
                    Bson::Null
                } else {
                    Bson::String(format!("PO{}", 10_000 + rng.below(90_000)))
                },
            );
            // Priority: a number stored three ways, plus a numeric-looking string.
            let priority = match rng.below(20) {
                0 => Bson::String("3".into()),
                1..=6 => Bson::Int32(i32::try_from(1 + rng.below(3)).unwrap_or(1)),
                7..=12 => Bson::Int64(i64::try_from(1 + rng.below(3)).unwrap_or(1)),
                _ => Bson::Double(f64::from(i32::try_from(1 + rng.below(3)).unwrap_or(1))),
            };
            d.insert("Priority", priority);
            d
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data() {
        // Compare bytes: a NaN score makes `==` on documents false.
        let bytes = |d: &SampleData| -> Vec<Vec<u8>> {
            [
                &d.employees,
                &d.customers,
                &d.vendors,
                &d.products,
                &d.orders,
            ]
            .iter()
            .flat_map(|s| s.iter())
            .map(|doc| bson::to_vec(doc).expect("encode"))
            .collect()
        };
        assert!(bytes(&generate(7)) == bytes(&generate(7)));
        assert!(bytes(&generate(7)) != bytes(&generate(8)));
        let d = generate(42);
        assert_eq!(d.orders.len(), 3806);
        assert_eq!(d.employees.len(), 17);
        assert!(d.store("orders").is_some());
        assert!(d.store("nope").is_none());
        let small = generate_with(
            1,
            SampleSizes {
                orders: 10,
                customers: 5,
                products: 4,
                vendors: 2,
            },
        );
        assert_eq!(small.orders.len(), 10);
    }

    #[test]
    fn documents_serialise_as_bson() {
        let d = generate(42);
        for store in [
            &d.employees,
            &d.customers,
            &d.vendors,
            &d.products,
            &d.orders,
        ] {
            for doc in store {
                assert!(bson::RawDocumentBuf::from_document(doc).is_ok());
            }
        }
    }
}
