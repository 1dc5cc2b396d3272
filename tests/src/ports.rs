//! Free loopback ports for the services a test starts.
//!
//! The port is found by binding `127.0.0.1:0` and dropping the listener, so another process may take it
//! before the child binds it. Callers therefore retry with a fresh port when a child reports "address
//! already in use" (see [`crate::Stack`]). Within one test process no port is handed out twice, so two
//! stacks started in parallel never race each other for the same port.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

/// Ports already handed out by this process. The kernel may hand a just-released port to the next
/// `bind(0)`; remembering them keeps parallel stacks apart.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Returns a TCP port on 127.0.0.1 that was free a moment ago and that this process has not returned
/// before.
///
/// # Panics
/// If the loopback interface cannot bind any port at all, which leaves no test able to run.
pub fn free_port() -> u16 {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    loop {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("cannot bind any port on 127.0.0.1");
        let port = listener
            .local_addr()
            .expect("bound listener has an address")
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let unique: HashSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, ports[0])).is_ok());
    }
}
