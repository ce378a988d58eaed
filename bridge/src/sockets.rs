//! Every listening socket the service needs, bound before it starts so that a port conflict
//! fails start-up with the config key at fault, and so tests can bind port 0 themselves.

use std::net::SocketAddr;

use sipbridge_config::Config;
use sipbridge_config::values::ListenAddr;
use tokio::net::{TcpListener, UdpSocket};

use crate::Error;

#[derive(Debug)]
pub struct BoundSockets {
    pub sip_udp: Vec<UdpSocket>,
    pub sip_tcp: Vec<TcpListener>,
    /// Twirp API, `/metrics` and `/health`.
    pub http: TcpListener,
}

impl BoundSockets {
    /// Binds the listeners the config names.
    pub async fn bind(config: &Config) -> Result<Self, Error> {
        let mut sip_udp = Vec::new();
        for (i, addr) in config.sip.listen.udp.iter().enumerate() {
            let key = format!("sip.listen.udp[{i}]");
            sip_udp.push(
                UdpSocket::bind(addr.0)
                    .await
                    .map_err(bind_error(key, addr))?,
            );
        }
        let mut sip_tcp = Vec::new();
        for (i, addr) in config.sip.listen.tcp.iter().enumerate() {
            let key = format!("sip.listen.tcp[{i}]");
            sip_tcp.push(
                TcpListener::bind(addr.0)
                    .await
                    .map_err(bind_error(key, addr))?,
            );
        }
        let http_addr = &config.http.listen;
        let http = TcpListener::bind(http_addr.0)
            .await
            .map_err(bind_error("http.listen".to_owned(), http_addr))?;
        Ok(Self {
            sip_udp,
            sip_tcp,
            http,
        })
    }

    /// The addresses actually bound (ports resolved when the config said 0).
    pub fn local_addrs(&self) -> std::io::Result<LocalAddrs> {
        Ok(LocalAddrs {
            sip_udp: self
                .sip_udp
                .iter()
                .map(UdpSocket::local_addr)
                .collect::<Result<_, _>>()?,
            sip_tcp: self
                .sip_tcp
                .iter()
                .map(TcpListener::local_addr)
                .collect::<Result<_, _>>()?,
            http: self.http.local_addr()?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct LocalAddrs {
    pub sip_udp: Vec<SocketAddr>,
    pub sip_tcp: Vec<SocketAddr>,
    pub http: SocketAddr,
}

fn bind_error(key: String, addr: &ListenAddr) -> impl FnOnce(std::io::Error) -> Error {
    let addr = addr.0;
    move |source| Error::Bind { key, addr, source }
}
