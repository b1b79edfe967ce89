//! The fake API server as a process, for scripts (`bench/kube.sh`): it
//! serves on 127.0.0.1 of the network namespace it is started in, writes a
//! kubeconfig for itself to the path given, prints its URL, and stops when
//! its standard input closes. Objects go in with kubectl, or at start from
//! a file of one JSON object a line (thousands, without a request each).
//!   ip netns exec NS fake-apiserver KUBECONFIG [OBJECTS.jsonl]
use std::io::Write;

fn main() {
    let Some(kubeconfig) = std::env::args_os().nth(1) else {
        eprintln!("usage: fake-apiserver KUBECONFIG");
        std::process::exit(2);
    };
    let s = kube_test_server::Server::start();
    if let Some(objects) = std::env::args_os().nth(2) {
        let text = std::fs::read_to_string(&objects).expect("the objects file");
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            match serde_json::from_str(line) {
                Ok(o) => {
                    s.put(o);
                }
                Err(e) => {
                    eprintln!("{}:{}: {e}", objects.to_string_lossy(), i + 1);
                    std::process::exit(2);
                }
            }
        }
    }
    s.write_kubeconfig(std::path::Path::new(&kubeconfig));
    println!("{}", s.url());
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
}
