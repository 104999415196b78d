//! Integration tests of the benchmark driver: one binary, a module per behaviour.

mod smoke;
