//! Rebuild when a migration changes: `sqlx::migrate!` embeds `migrations/<backend>/` at compile time,
//! and cargo does not otherwise see that the files are inputs.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
