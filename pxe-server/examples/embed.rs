//! A whole PXE server (proxyDHCP, TFTP, HTTP) with a per-machine answer decided in Rust:
//! `sudo cargo run -p pxe-server --example embed -- /srv/tftp eth0`
use pxe_server::PxeServer;
use pxe_server::decide::{Boot, Client, Decide, DecideFuture, Decision};
use tokio::sync::broadcast::error::RecvError;
/// Greets each machine's iPXE by its MAC, then runs the root's `boot.ipxe`.
struct Greeter;
impl Decide for Greeter {
    fn decide<'a>(&'a self, client: &'a Client) -> DecideFuture<'a> {
        let mac = client.mac;
        let script = format!("#!ipxe\necho embed: hello {mac}\nchain /boot.ipxe\n");
        Box::pin(async move { Decision::Boot(Boot::script(&script)) })
    }
}

#[tokio::main]
async fn main() -> Result<(), pxe_server::Error> {
    let mut args = std::env::args().skip(1);
    let root = args.next().unwrap_or_else(|| "/srv/tftp".into());
    let interface = args.next().unwrap_or_else(|| "eth0".into());
    let server = PxeServer::builder()
        .root(root)
        .http(([0, 0, 0, 0], 8080).into())
        .dhcp_proxy(&interface)
        .decider(Greeter)
        .start()
        .await?;
    let mut events = server.events(); // Print what the server decides and serves.
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(event) => println!("{event:?}"),
                Err(RecvError::Lagged(n)) => eprintln!("{n} events missed"),
                Err(RecvError::Closed) => break,
            }
        }
    });
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await
}
