//! The processes a comparison needs: a PostgreSQL cluster and a `shinydb-server`, each in a
//! temporary directory of its own on loopback.

pub mod postgres;
pub mod shinydb;
