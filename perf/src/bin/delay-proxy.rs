//! A loopback TCP proxy that holds back every chunk of the upstream's answers for a fixed
//! delay: a DynamoDB that answers in N ms, for measuring what the client does while it
//! waits. Requests pass at once. Stops by itself after `--lifetime` seconds.
//!
//!   delay-proxy --listen 127.0.0.1:18101 --upstream 127.0.0.1:18100 --delay-ms 20

use std::time::Duration;

use clap::Parser;
use tokio::net::{TcpListener, TcpStream};

#[derive(Parser)]
struct Args {
    /// Address to listen on (loopback).
    #[arg(long)]
    listen: String,
    /// Where to forward (loopback).
    #[arg(long)]
    upstream: String,
    /// How long each chunk of the upstream's answer is held back.
    #[arg(long)]
    delay_ms: u64,
    /// Exit after this many seconds.
    #[arg(long, default_value = "3600")]
    lifetime: u64,
}

async fn serve(client: TcpStream, upstream: String, delay: Duration) {
    let Ok(server) = TcpStream::connect(upstream.as_str()).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    update_connection_testkit::relay::relay(client, server, delay).await;
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind(&args.listen).await?;
    let delay = Duration::from_millis(args.delay_ms);
    let accept = async {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client, args.upstream.clone(), delay));
        }
    };
    tokio::select! {
        () = accept => {}
        () = tokio::time::sleep(Duration::from_secs(args.lifetime)) => {}
    }
    Ok(())
}
