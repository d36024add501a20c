//! A minimal JSON webhook on 127.0.0.1 for the alert tests: records each request (method,
//! path, headers, body) and answers every one with the same status. One connection at a
//! time, `Connection: close`: enough for one client process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct FakeWebhook {
    port: u16,
    requests: Arc<Mutex<Vec<Recorded>>>,
    status: Arc<Mutex<u16>>,
}

impl FakeWebhook {
    pub fn start() -> FakeWebhook {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(Mutex::new(202));
        let (r, s) = (Arc::clone(&requests), Arc::clone(&status));
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let answer = *s.lock().unwrap();
                if let Some(recorded) = serve(stream, answer) {
                    r.lock().unwrap().push(recorded);
                }
            }
        });
        FakeWebhook {
            port,
            requests,
            status,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/alerts/notify/drift/1.json", self.port)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// Answer every later request with `status`.
    pub fn answer(&self, status: u16) {
        *self.status.lock().unwrap() = status;
    }
}

fn serve(stream: TcpStream, status: u16) -> Option<Recorded> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let mut stream = stream;
    let reply = format!(
        "HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(reply.as_bytes()).ok()?;
    Some(Recorded {
        method,
        path,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    })
}
