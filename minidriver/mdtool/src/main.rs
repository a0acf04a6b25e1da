//! mdtool.
fn main() {}
