//! Handing back to the kernel the memory start-up used once and an idle bot never touches
//! again (BENCHMARKS.md, figure 8).
//!
//! A started bot has faulted in about 18 MiB of its own program file: the code and read-only
//! data of configuration parsing, migrations, the TLS roots, building the SDK clients,
//! template compilation, and the pages the kernel read around each of those faults. An
//! idle bot runs a small fraction of that (the Socket Mode pings, the scheduler, the
//! pollers). The pages are clean and file-backed, so the kernel would drop them under memory
//! pressure anyway; but until then they count in the process's RSS and in its container's
//! working set, which is what operators size replicas by. `MADV_PAGEOUT` asks the kernel to
//! reclaim them now; whatever an event needs later is read back on its first use (once,
//! from the page cache or the disk), and pages shared with another
//! process stay where they are. The heap start-up freed goes back the same way
//! (`malloc_trim`).

/// What [`release`] handed back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// Bytes of the program's own mappings the kernel was asked to reclaim.
    pub program_bytes: u64,
    /// Whether the allocator returned free heap to the system.
    pub heap_trimmed: bool,
}

/// Ask the kernel to reclaim the pages of this program's own file mappings, and return the
/// heap that start-up freed. Call once, when start-up is over. Never fails the caller: on a
/// kernel without `MADV_PAGEOUT` (before Linux 5.4) or off Linux it does nothing and says so.
pub fn release() -> Released {
    imp::release()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use super::Released;

    pub(super) fn release() -> Released {
        let program_bytes = match page_out_program() {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::debug!(error = %e, "start-up pages not released");
                0
            }
        };
        // SAFETY: `malloc_trim` only returns free memory at the top of glibc's heaps to the
        // system; it touches no memory the program owns.
        let heap_trimmed = unsafe { libc::malloc_trim(0) } == 1;
        Released {
            program_bytes,
            heap_trimmed,
        }
    }

    /// `MADV_PAGEOUT` over every mapping of the running executable in `/proc/self/maps`.
    fn page_out_program() -> std::io::Result<u64> {
        let exe = std::fs::read_link("/proc/self/exe")?;
        let exe = exe.to_string_lossy();
        let maps = std::fs::read_to_string("/proc/self/maps")?;
        let mut total = 0u64;
        for (start, end) in program_ranges(&maps, &exe) {
            let len = end - start;
            // SAFETY: the range is one of this process's own file mappings, as the kernel
            // listed it; MADV_PAGEOUT changes no contents (clean pages are read back from
            // the file on their next use), so no reference into it is invalidated.
            let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_PAGEOUT) };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            total += len as u64;
        }
        Ok(total)
    }

    /// The address ranges `/proc/self/maps` shows for the file `exe`.
    pub(super) fn program_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
        maps.lines()
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let range = fields.next()?;
                // perms, offset, device, inode, then the path (which may hold spaces).
                let path = line.splitn(6, char::is_whitespace).nth(5)?.trim_start();
                if path != exe {
                    return None;
                }
                let (start, end) = range.split_once('-')?;
                let start = usize::from_str_radix(start, 16).ok()?;
                let end = usize::from_str_radix(end, 16).ok()?;
                (end > start).then_some((start, end))
            })
            .collect()
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    use super::Released;

    pub(super) fn release() -> Released {
        Released::default()
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn rss_file_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("RssFile:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[test]
    fn only_the_programs_own_mappings_are_picked() {
        let maps = "\
55d0c0000000-55d0c0100000 r--p 00000000 fd:01 42   /usr/local/bin/warroom
55d0c0100000-55d0c0900000 r-xp 00100000 fd:01 42   /usr/local/bin/warroom
55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0    [heap]
7f0000000000-7f0000200000 r-xp 00000000 fd:01 7    /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000400000-7f0000401000 r--p 00000000 fd:01 43   /usr/local/bin/warroom (deleted)
";
        assert_eq!(
            imp::program_ranges(maps, "/usr/local/bin/warroom"),
            vec![
                (0x55d0c0000000, 0x55d0c0100000),
                (0x55d0c0100000, 0x55d0c0900000)
            ]
        );
    }

    #[test]
    fn the_programs_pages_leave_memory_and_it_keeps_running() {
        let before = rss_file_kib();
        let released = release();
        let after = rss_file_kib();
        assert!(released.program_bytes > 0, "{released:?}");
        assert!(
            after < before,
            "file-backed RSS {before} KiB before, {after} KiB after"
        );
    }
}
