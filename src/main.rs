fn main() {
    println!("leafvip {}", env!("CARGO_PKG_VERSION"));
}
