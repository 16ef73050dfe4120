//! Node collector: the PBS host's CPU, load, memory, swap, root filesystem and uptime, from
//! `GET /nodes/localhost/status`.

use super::{Ctx, set};
use crate::exposition::Families;
use crate::json::{JsonError, JsonReader, Path, Scalar, Sink};
use crate::natrontech::Family as Compat;

crate::families! {
    pub enum Family {
        CpuUsage => Gauge "pbs_host_cpu_usage_ratio" "Fraction of the PBS host's CPU time in use (0 to 1).",
        IoWait => Gauge "pbs_host_io_wait_ratio" "Fraction of the PBS host's CPU time waiting for IO (0 to 1).",
        Load1 => Gauge "pbs_host_load1" "Load average of the PBS host over 1 minute.",
        Load5 => Gauge "pbs_host_load5" "Load average of the PBS host over 5 minutes.",
        Load15 => Gauge "pbs_host_load15" "Load average of the PBS host over 15 minutes.",
        MemoryTotal => Gauge "pbs_host_memory_total_bytes" "Total memory of the PBS host.",
        MemoryUsed => Gauge "pbs_host_memory_used_bytes" "Memory in use on the PBS host (total minus available).",
        MemoryFree => Gauge "pbs_host_memory_free_bytes" "Free memory of the PBS host (MemFree; page cache not counted).",
        SwapTotal => Gauge "pbs_host_swap_total_bytes" "Total swap of the PBS host.",
        SwapUsed => Gauge "pbs_host_swap_used_bytes" "Swap in use on the PBS host.",
        SwapFree => Gauge "pbs_host_swap_free_bytes" "Free swap of the PBS host.",
        RootTotal => Gauge "pbs_host_root_filesystem_total_bytes" "Size of the PBS host's root filesystem.",
        RootUsed => Gauge "pbs_host_root_filesystem_used_bytes" "Bytes used on the PBS host's root filesystem.",
        RootAvail => Gauge "pbs_host_root_filesystem_available_bytes" "Bytes available to unprivileged users on the PBS host's root filesystem.",
        Uptime => Gauge "pbs_host_uptime_seconds" "Seconds since the PBS host booted.",
        Cpus => Gauge "pbs_host_cpus" "Logical CPUs of the PBS host.",
        Info => Gauge "pbs_host_info" "PBS host facts as labels: kernel release, CPU model, boot mode. Always 1.",
    }
}

/// What the node collector keeps between scrapes: the status being read.
#[derive(Default)]
pub struct State {
    status: Status,
}

/// Nothing is carried to the next scrape.
impl super::IdleState for State {}

/// The fields of the node status this collector reads.
#[derive(Default)]
struct Status {
    numbers: [Option<f64>; 4],
    loads: [Option<f64>; 3],
    bytes: [Option<u64>; 9],
    kernel: String,
    kversion: String,
    cpu_model: String,
    boot_mode: String,
}

/// Float-valued fields: (path under `data`, family).
const FLOATS: [(&[&str], Family); 4] = [
    (&["cpu"], Family::CpuUsage),
    (&["wait"], Family::IoWait),
    (&["uptime"], Family::Uptime),
    (&["cpuinfo", "cpus"], Family::Cpus),
];

/// The three load averages, in `loadavg` order.
const LOADS: [Family; 3] = [Family::Load1, Family::Load5, Family::Load15];

/// Byte-valued fields: (path under `data`, family).
const BYTES: [(&[&str], Family); 9] = [
    (&["memory", "total"], Family::MemoryTotal),
    (&["memory", "used"], Family::MemoryUsed),
    (&["memory", "free"], Family::MemoryFree),
    (&["swap", "total"], Family::SwapTotal),
    (&["swap", "used"], Family::SwapUsed),
    (&["swap", "free"], Family::SwapFree),
    (&["root", "total"], Family::RootTotal),
    (&["root", "used"], Family::RootUsed),
    (&["root", "avail"], Family::RootAvail),
];

impl Status {
    /// Forgets the fields, keeping the strings' capacity.
    fn reset(&mut self) {
        self.numbers = [None; 4];
        self.loads = [None; 3];
        self.bytes = [None; 9];
        self.kernel.clear();
        self.kversion.clear();
        self.cpu_model.clear();
        self.boot_mode.clear();
    }
}

impl Sink for Status {
    fn scalar(&mut self, path: &Path<'_>, value: Scalar<'_>) {
        // loadavg is an array of three: data.loadavg[i].
        if path.len() == 3 && path.key(1) == Some("loadavg") && path.key(0) == Some("data") {
            if let Some(i) = path.index(2).filter(|i| *i < 3) {
                self.loads[i as usize] = value.as_f64();
            }
            return;
        }
        for (i, (p, _)) in BYTES.iter().enumerate() {
            if path.is_data_field(p) {
                self.bytes[i] = value.as_u64();
                return;
            }
        }
        for (i, (p, _)) in FLOATS.iter().enumerate() {
            if path.is_data_field(p) {
                self.numbers[i] = value.as_f64();
                return;
            }
        }
        let Some(text) = value.as_str() else { return };
        if path.is_data_field(&["current-kernel", "release"]) {
            set(&mut self.kernel, text);
        } else if path.is_data_field(&["kversion"]) {
            set(&mut self.kversion, text);
        } else if path.is_data_field(&["cpuinfo", "model"]) {
            set(&mut self.cpu_model, text);
        } else if path.is_data_field(&["boot-info", "mode"]) {
            set(&mut self.boot_mode, text);
        }
    }
}

/// Reads the node status and writes the host families.
pub async fn collect(ctx: &mut Ctx<'_>, state: &mut State, out: &mut Families) {
    let s = &mut state.status;
    s.reset();
    if let Err(e) = ctx
        .client
        .get_json("/nodes/localhost/status", s, ctx.deadline)
        .await
    {
        ctx.fail(format_args!("reading the node status"), &e);
        return;
    }
    write(s, out, ctx.compat.as_deref_mut());
}

/// Writes the host families from a node status body given in pieces (fuzzing, benchmarks).
pub fn from_json<'p>(
    pieces: impl IntoIterator<Item = &'p [u8]>,
    out: &mut Families,
) -> Result<(), JsonError> {
    let mut s = Status::default();
    JsonReader::new().read_pieces(pieces, &mut s)?;
    write(&s, out, None);
    Ok(())
}

/// natrontech's host families in `FLOATS` order (`None`: not written by natrontech).
const COMPAT_FLOATS: [Option<Compat>; 4] = [
    Some(Compat::HostCpuUsage),
    Some(Compat::HostIoWait),
    Some(Compat::HostUptime),
    None,
];
/// natrontech's load families in `loadavg` order.
const COMPAT_LOADS: [Compat; 3] = [Compat::HostLoad1, Compat::HostLoad5, Compat::HostLoad15];
/// natrontech's byte families in `BYTES` order.
const COMPAT_BYTES: [Compat; 9] = [
    Compat::HostMemoryTotal,
    Compat::HostMemoryUsed,
    Compat::HostMemoryFree,
    Compat::HostSwapTotal,
    Compat::HostSwapUsed,
    Compat::HostSwapFree,
    Compat::HostDiskTotal,
    Compat::HostDiskUsed,
    Compat::HostDiskAvailable,
];

/// natrontech's host families: a missing field is 0, as natrontech decodes it. Without three
/// load averages natrontech crashes; here only its host families are left out.
fn write_compat(s: &Status, out: &mut Families) {
    let [Some(_), Some(_), Some(_)] = s.loads else {
        return;
    };
    for (family, v) in COMPAT_FLOATS.iter().zip(s.numbers) {
        if let Some(family) = family {
            out.sample(*family, &[], v.unwrap_or(0.0));
        }
    }
    for (family, v) in COMPAT_LOADS.iter().zip(s.loads) {
        out.sample(*family, &[], v.unwrap_or(0.0));
    }
    for (family, v) in COMPAT_BYTES.iter().zip(s.bytes) {
        out.sample(*family, &[], v.unwrap_or(0));
    }
}

fn write(s: &Status, out: &mut Families, compat: Option<&mut Families>) {
    for ((_, family), v) in FLOATS.iter().zip(s.numbers) {
        if let Some(v) = v {
            out.sample(*family, &[], v);
        }
    }
    if let Some(compat) = compat {
        // natrontech's load families have our names: written once, as natrontech's.
        write_compat(s, compat);
    } else {
        for (family, v) in LOADS.iter().zip(s.loads) {
            if let Some(v) = v {
                out.sample(*family, &[], v);
            }
        }
    }
    for ((_, family), v) in BYTES.iter().zip(s.bytes) {
        if let Some(v) = v {
            out.sample(*family, &[], v);
        }
    }
    // Before PBS 3.1 there is no current-kernel; kversion is "Linux <release> <version>".
    let kernel = if s.kernel.is_empty() {
        s.kversion.split(' ').nth(1).unwrap_or("")
    } else {
        &s.kernel
    };
    out.sample(
        Family::Info,
        &[
            ("kernel", kernel),
            ("cpu_model", &s.cpu_model),
            ("boot_mode", &s.boot_mode),
        ],
        1u64,
    );
}
