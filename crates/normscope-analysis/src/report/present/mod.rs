//! Everything a reader sees: the sentences ([`text`]), the tables ([`tables`]), the figures
//! ([`figures`]) and the page that puts them in order ([`page`]).

pub mod figures;
pub mod page;
pub mod tables;
pub mod text;
