//! Shortest walks: one multi-source search (Dijkstra with a binary heap)
//! from many starting points at once gives, for every node, the distance
//! to the nearest of them and which one it is, up to a bound.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::graph::WalkGraph;

/// A starting point: a node, the metres already walked to reach it (from
/// an initiative's door to the nearest node), and the caller's label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    pub node: u32,
    pub offset_m: f32,
    pub label: u32,
}

/// Every node's distance to the nearest start, within the bound.
#[derive(Debug, Clone)]
pub struct Reach {
    /// Metres; `f32::INFINITY` beyond the bound or unreachable.
    pub metres: Vec<f32>,
    /// The label of the nearest start (`u32::MAX` where unreached).
    pub from: Vec<u32>,
    pub bound_m: f32,
}

impl Reach {
    pub fn metres(&self, node: u32) -> Option<f32> {
        let d = self.metres[node as usize];
        d.is_finite().then_some(d)
    }

    pub fn heap_bytes(&self) -> usize {
        self.metres.len() * 8
    }
}

/// Distances from the nearest of `starts` to every node, up to `bound_m`.
///
/// Distances are non-negative `f32`, whose bit patterns order as the
/// numbers do: the heap holds integers.
pub fn nearest(graph: &WalkGraph, starts: &[Start], bound_m: f32) -> Reach {
    let n = graph.node_count();
    let mut metres = vec![f32::INFINITY; n];
    let mut from = vec![u32::MAX; n];
    let mut heap = BinaryHeap::new();
    for s in starts {
        let d = s.offset_m.max(0.0);
        if d <= bound_m && d < metres[s.node as usize] {
            metres[s.node as usize] = d;
            from[s.node as usize] = s.label;
            heap.push(Reverse((d.to_bits(), s.node)));
        }
    }
    while let Some(Reverse((bits, node))) = heap.pop() {
        let d = f32::from_bits(bits);
        if d > metres[node as usize] {
            continue; // Already settled by a shorter walk.
        }
        let label = from[node as usize];
        for (next, length) in graph.edges(node) {
            let nd = d + length;
            if nd <= bound_m && nd < metres[next as usize] {
                metres[next as usize] = nd;
                from[next as usize] = label;
                heap.push(Reverse((nd.to_bits(), next)));
            }
        }
    }
    Reach {
        metres,
        from,
        bound_m,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::graph::WalkGraph;
    use proptest::prelude::*;

    /// Bellman–Ford, the slow and obvious way.
    fn by_relaxation(g: &WalkGraph, starts: &[Start]) -> Vec<f32> {
        let mut d = vec![f32::INFINITY; g.node_count()];
        for s in starts {
            d[s.node as usize] = d[s.node as usize].min(s.offset_m);
        }
        loop {
            let mut changed = false;
            for u in 0..g.node_count() as u32 {
                for (v, l) in g.edges(u) {
                    if d[u as usize] + l < d[v as usize] {
                        d[v as usize] = d[u as usize] + l;
                        changed = true;
                    }
                }
            }
            if !changed {
                return d;
            }
        }
    }

    proptest! {
        #[test]
        fn agrees_with_relaxation(
            points in prop::collection::vec((0i32..20_000, 0i32..20_000), 2..40),
            pairs in prop::collection::vec((0usize..40, 0usize..40), 1..120),
            starts in prop::collection::vec((0usize..40, 0f32..50.0), 1..4),
        ) {
            let n = points.len();
            let nodes = points.iter().enumerate()
                .map(|(i, &(x, y))| (i as i64, [23_500_000 + x, 488_500_000 + y]))
                .collect();
            let edges: Vec<(u32, u32)> = pairs.iter()
                .map(|&(a, b)| ((a % n) as u32, (b % n) as u32)).collect();
            let g = WalkGraph::from_edges(nodes, &edges);
            let starts: Vec<Start> = starts.iter().enumerate()
                .map(|(i, &(node, offset_m))| Start { node: (node % n) as u32, offset_m, label: i as u32 })
                .collect();
            let reach = nearest(&g, &starts, f32::INFINITY);
            let expected = by_relaxation(&g, &starts);
            for (a, b) in reach.metres.iter().zip(&expected) {
                prop_assert!((a.is_infinite() && b.is_infinite()) || (a - b).abs() < 0.01, "{a} {b}");
            }
            // Bounded: the same where within, nothing beyond.
            let bounded = nearest(&g, &starts, 100.0);
            for (a, b) in bounded.metres.iter().zip(&expected) {
                if *b <= 99.0 { prop_assert!((a - b).abs() < 0.01); }
                if *b > 100.5 { prop_assert!(a.is_infinite()); }
            }
        }
    }
}
