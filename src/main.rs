//! The `cds` command.

fn main() {}
