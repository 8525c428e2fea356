//! The `sentri` command.
fn main() {}
