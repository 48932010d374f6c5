//! The open-file limit. Every connection is a file descriptor, and the soft limit a
//! shell or service manager hands a process is often 1,024, far below the 25,000
//! connections a worker takes (`front`). At start the soft limit is raised to the
//! hard one, as Go's runtime and nginx's `worker_rlimit_nofile` do.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

/// Linux's ceiling on a process's open files by default (`fs.nr_open`), for a hard
/// limit of "unlimited", which the soft one cannot be.
const NR_OPEN: u64 = 1 << 20;
/// Below this many, the server says how few connections it can hold.
const FEW: u64 = 4096;

/// Raises the soft limit on open files to the hard one, and says so if the limit
/// stays low.
pub fn raise_limit() {
    let limit = getrlimit(Resource::Nofile);
    if let Some(raised) = raised(limit)
        && let Err(error) = setrlimit(Resource::Nofile, raised)
    {
        tracing::warn!(%error, "cannot raise the open-file limit");
    }
    let now = getrlimit(Resource::Nofile).current;
    if let Some(open_files) = now.filter(|&open_files| open_files < FEW) {
        tracing::warn!(open_files, "the open-file limit allows few connections; raise its hard limit");
    }
}

/// The limit to set: the soft one up to the hard one (`None` is unlimited), if below.
fn raised(limit: Rlimit) -> Option<Rlimit> {
    let ceiling = limit.maximum.unwrap_or(NR_OPEN);
    let current = limit.current.unwrap_or(u64::MAX);
    (current < ceiling).then_some(Rlimit { current: Some(ceiling), maximum: limit.maximum })
}

#[cfg(test)]
mod tests {
    use rustix::process::Rlimit;

    use super::{NR_OPEN, raised};

    #[test]
    fn the_soft_limit_rises_to_the_hard_one_and_never_falls() {
        let limit = |current, maximum| Rlimit { current, maximum };
        assert_eq!(raised(limit(Some(1024), Some(524_288))), Some(limit(Some(524_288), Some(524_288))));
        assert_eq!(raised(limit(Some(1024), None)), Some(limit(Some(NR_OPEN), None)));
        assert_eq!(raised(limit(Some(524_288), Some(524_288))), None);
        assert_eq!(raised(limit(None, None)), None);
        assert_eq!(raised(limit(Some(2 * NR_OPEN), None)), None);
    }
}
