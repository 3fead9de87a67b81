//! Parsing of valgrind massif output files: heap in use, independent of where the allocator
//! put it (RSS also counts how allocations fall on pages, which moves by hundreds of bytes
//! per connection when a future grows or shrinks).

/// The largest heap of any snapshot: requested bytes plus the allocator's overhead
/// (`mem_heap_B + mem_heap_extra_B`).
pub fn parse_peak_heap(text: &str) -> Option<u64> {
    let mut peak = None;
    let mut heap = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("mem_heap_B=") {
            heap = v.trim().parse::<u64>().ok();
        } else if let Some(v) = line.strip_prefix("mem_heap_extra_B=") {
            if let (Some(h), Ok(x)) = (heap.take(), v.trim().parse::<u64>()) {
                peak = Some(peak.map_or(h + x, |p: u64| p.max(h + x)));
            }
        }
    }
    peak
}

/// Bytes per connection from a run with `n` idle connections and one with none.
pub fn per_conn(with_n: u64, baseline: u64, n: u64) -> Option<f64> {
    (n > 0 && with_n >= baseline).then(|| (with_n - baseline) as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_snapshot_counts() {
        let out = "desc: --massif-out-file=x\ncmd: ./echo\ntime_unit: i\n\
            #-----------\nsnapshot=0\n#-----------\ntime=0\nmem_heap_B=0\nmem_heap_extra_B=0\nmem_stacks_B=0\nheap_tree=empty\n\
            #-----------\nsnapshot=1\n#-----------\ntime=10\nmem_heap_B=1000\nmem_heap_extra_B=24\nmem_stacks_B=0\nheap_tree=peak\n\
            #-----------\nsnapshot=2\n#-----------\ntime=20\nmem_heap_B=900\nmem_heap_extra_B=16\nmem_stacks_B=0\nheap_tree=empty\n";
        assert_eq!(parse_peak_heap(out), Some(1024));
        assert_eq!(parse_peak_heap("cmd: ./echo\n"), None);
    }

    #[test]
    fn per_conn_difference() {
        assert_eq!(per_conn(21_000, 1_000, 2_000), Some(10.0));
        assert_eq!(per_conn(900, 1_000, 2_000), None);
        assert_eq!(per_conn(900, 100, 0), None);
    }
}
