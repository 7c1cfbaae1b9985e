//! Cost of each hit/no-hit OPRF step, one core.
//!
//! ```sh
//! cargo bench -p tansiq-crypto --bench oprf
//! ```
//! Prints microseconds per element (median of 5 rounds of 1,024) for the
//! holder's direct evaluation (keying its list), the querier's blinding,
//! the holder's batched blind evaluation (with its proof) and the
//! querier's finalisation (proof check and unblinding). Reports CPU time
//! of this thread, so a busy machine moves it little.

use tansiq_crypto::oprf::{self, OprfKey};

fn thread_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) / 100.0
}

fn per_element(n: usize, mut f: impl FnMut()) -> f64 {
    let mut v: Vec<f64> = (0..5)
        .map(|_| {
            let c = thread_cpu_s();
            f();
            (thread_cpu_s() - c) * 1e6 / n as f64
        })
        .collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[2]
}

fn main() {
    const N: usize = 1024;
    let key = OprfKey::derive(&[7; 32], b"bench").unwrap();
    let inputs: Vec<Vec<u8>> = (0..N)
        .map(|i| format!("tansiq-hk1\0full-name\0name number {i}").into_bytes())
        .collect();
    let eval = per_element(N, || {
        for i in &inputs {
            std::hint::black_box(key.evaluate(i).unwrap());
        }
    });
    let blind = per_element(N, || {
        std::hint::black_box(oprf::blind(&inputs).unwrap());
    });
    let b = oprf::blind(&inputs).unwrap();
    let server = per_element(N, || {
        std::hint::black_box(key.blind_evaluate(&b.elements).unwrap());
    });
    let (ev, proof) = key.blind_evaluate(&b.elements).unwrap();
    let pk = key.public_key();
    let fin = per_element(N, || {
        std::hint::black_box(oprf::finalize(&b, &inputs, &ev, &proof, &pk).unwrap());
    });
    println!(
        "oprf µs/element (CPU, one core): evaluate {eval:.1} · blind {blind:.1} · blind_evaluate+proof {server:.1} · finalize {fin:.1} · querier total {:.1} · holder total {server:.1}",
        blind + fin
    );
}
