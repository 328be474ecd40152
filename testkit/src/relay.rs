//! A TCP relay that can hold back the upstream's answers: the delay proxy's whole job, and
//! the integration tests' fault proxy when it passes traffic on.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Copies bytes both ways until either side closes, holding back each chunk of `server`'s
/// answers for `delay` (zero: none). Requests pass at once.
pub async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::io::copy(&mut cr, &mut sw);
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = sr.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            tokio::time::sleep(delay).await;
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        _ = up => {}
        () = down => {}
    }
}
