//! Tokio's echo server, beside weft-echo-server and epoll-echo-server in the echo benchmark
//! (bench/echo/run_matrix.py): the server a Tokio user writes — one listener whose accept
//! loop spawns a task per connection that reads into a 64 KiB buffer and writes back what
//! it read — on a multi-threaded runtime.
//!
//!     weft-tokio-echo [--host 127.0.0.1] [--port 0] [--workers N] [--pin CPU,CPU,...]
//!
//! Prints "listening HOST:PORT" once it accepts connections; SIGTERM ends it with status 0
//! (bench/echo/run_echo.py's rule for a server). --pin restricts the process to the listed CPUs before the runtime starts, as
//! weft-echo-server's --pin does.

use std::io::Write;
use std::process::ExitCode;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::SignalKind;

struct Options {
    host: String,
    port: u16,
    workers: usize,
    pin: Vec<usize>,
}

fn parse() -> Result<Options, String> {
    let mut o = Options { host: "127.0.0.1".into(), port: 0, workers: 0, pin: Vec::new() };
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        let bad = || format!("bad value for {name}: {value}");
        match name.as_str() {
            "--host" => o.host = value.clone(),
            "--port" => o.port = value.parse().map_err(|_| bad())?,
            "--workers" => {
                o.workers = value.parse().map_err(|_| bad())?;
                if o.workers == 0 || o.workers > 1024 {
                    return Err(bad());
                }
            }
            "--pin" => {
                for cpu in value.split(',') {
                    o.pin.push(cpu.parse().map_err(|_| bad())?);
                }
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }
    Ok(o)
}

fn pin(cpus: &[usize]) -> Result<(), String> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET and sched_setaffinity get valid
    // pointers to it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &cpu in cpus {
            libc::CPU_SET(cpu, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("sched_setaffinity: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

async fn echo(mut s: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if s.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((s, _)) => {
                tokio::spawn(echo(s));
            }
            Err(e) => {
                eprintln!("weft-tokio-echo: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "weft-tokio-echo: {e}\nusage: weft-tokio-echo [--host IPV4] [--port P] \
                 [--workers N] [--pin CPU,CPU,...]"
            );
            return ExitCode::from(2);
        }
    };
    if !o.pin.is_empty() {
        if let Err(e) = pin(&o.pin) {
            eprintln!("weft-tokio-echo: {e}");
            return ExitCode::from(1);
        }
    }
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if o.workers > 0 {
        builder.worker_threads(o.workers);
    }
    let rt = builder.enable_all().build().expect("a Tokio runtime");
    rt.block_on(async {
        let listener = match TcpListener::bind((o.host.as_str(), o.port)).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("weft-tokio-echo: bind {}:{}: {e}", o.host, o.port);
                return ExitCode::from(1);
            }
        };
        let addr = listener.local_addr().expect("the listener's address");
        println!("listening {}:{}", addr.ip(), addr.port());
        let _ = std::io::stdout().flush();
        let mut term = match tokio::signal::unix::signal(SignalKind::terminate()) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("weft-tokio-echo: SIGTERM handler: {e}");
                return ExitCode::from(1);
            }
        };
        tokio::select! {
            _ = serve(listener) => {}
            _ = term.recv() => {}
        }
        ExitCode::SUCCESS
    })
}
