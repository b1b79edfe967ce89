//! The fake API server as a process, for scripts (`bench/kube.sh`): it
//! serves on 127.0.0.1 of the network namespace it is started in, writes a
//! kubeconfig for itself to the path given, prints its URL, and stops when
//! its standard input closes. Objects go in with kubectl.
//!   ip netns exec NS fake-apiserver KUBECONFIG
use std::io::Write;

fn main() {
    let Some(kubeconfig) = std::env::args_os().nth(1) else {
        eprintln!("usage: fake-apiserver KUBECONFIG");
        std::process::exit(2);
    };
    let s = kube_test_server::Server::start();
    s.write_kubeconfig(std::path::Path::new(&kubeconfig));
    println!("{}", s.url());
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}
