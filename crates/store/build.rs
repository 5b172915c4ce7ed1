//! Rebuilds the store when a migration changes: `sqlx::migrate!` embeds `migrations/` at
//! compile time, but stable Rust cannot tell cargo about files a macro reads.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
