package main

import (
	"log/slog"
	"math"
	"path/filepath"
	"slices"
)

// comparableScale reports whether two runs of a source measured the same
// thing: the same label and sizes (a snapshot's parallelism is matched
// per scenario, by compareBaselines). Rates at different sizes differ for
// reasons that are not a change of speed (caches, fixed start-up costs).
func comparableScale(a, b SourceResults) bool {
	x, y := a.Scale, b.Scale
	return a.Source == b.Source && a.Label == b.Label && x.Rows == y.Rows && x.Changes == y.Changes &&
		x.TxnChanges == y.TxnChanges && x.BigTxnRows == y.BigTxnRows && x.ChunkRows == y.ChunkRows && x.StreamInterval == y.StreamInterval
}

// findPrevious returns the newest results file in dir (by name: they
// start with their date) that holds a run of cur's source at a
// comparable scale started before cur, and that run; "" when there is
// none. The file this run is about to overwrite (a rerun on the same
// day, or the -merge file) counts: it holds the previous run. Files that
// cannot be read are skipped with a warning.
func findPrevious(dir string, cur SourceResults, log *slog.Logger) (string, *SourceResults) {
	names, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	slices.Sort(names)
	slices.Reverse(names)
	for _, path := range names {
		r, err := readResultsFile(path)
		if err != nil {
			log.Warn("previous results: skipping an unreadable file", "file", path, "err", err)
			continue
		}
		if prev, ok := previousIn(r, cur); ok {
			return filepath.Base(path), prev
		}
	}
	return "", nil
}

// previousIn returns r's run of cur's source if it is comparable and
// started before cur.
func previousIn(r *Results, cur SourceResults) (*SourceResults, bool) {
	for i := range r.Sources {
		s := &r.Sources[i]
		if comparableScale(*s, cur) && s.StartedAt < cur.StartedAt {
			return s, true
		}
	}
	return nil, false
}

// compareBaselines sets the BaselineShift of each of cur's scenarios
// that has a baseline in prev (the run in file previous; a snapshot is
// compared with the snapshot at the same parallelism): a baseline
// that changed by more than tolerance (relative) is marked moved.
func compareBaselines(cur *SourceResults, previous string, prev *SourceResults, tolerance float64) {
	for i := range cur.Scenarios {
		s := &cur.Scenarios[i]
		s.BaselineShift = nil
		if s.Baseline == nil || *s.Baseline <= 0 {
			continue
		}
		j := slices.IndexFunc(prev.Scenarios, func(p Scenario) bool { return p.Name == s.Name && p.Parallelism == s.Parallelism })
		if j < 0 {
			continue
		}
		p := prev.Scenarios[j]
		if p.Baseline == nil || *p.Baseline <= 0 || p.Median <= 0 {
			continue
		}
		change := *s.Baseline / *p.Baseline - 1
		sh := &BaselineShift{Previous: previous, PreviousBaseline: *p.Baseline, BaselineChange: round3(change),
			PreviousMedian: p.Median, MedianChange: round3(s.Median/p.Median - 1), Tolerance: tolerance,
			Moved: math.Abs(change) > tolerance}
		if p.Ratio != nil {
			sh.PreviousRatio = *p.Ratio
		}
		s.BaselineShift = sh
	}
}

// annotateShifts compares each source of res with its previous results:
// the file previous when given, else the newest comparable file in dir
// ("none" turns it off). It must run before res is written.
func annotateShifts(res *Results, previous, dir string, tolerance float64, log *slog.Logger) {
	if previous == "none" {
		return
	}
	var fixed *Results
	if previous != "auto" {
		r, err := readResultsFile(previous)
		if err != nil {
			log.Warn("previous results: not compared", "file", previous, "err", err)
			return
		}
		fixed = r
	}
	for i := range res.Sources {
		cur := &res.Sources[i]
		var (
			name string
			prev *SourceResults
		)
		if fixed != nil {
			if p, ok := previousIn(fixed, *cur); ok {
				name, prev = filepath.Base(previous), p
			}
		} else {
			name, prev = findPrevious(dir, *cur, log)
		}
		if prev == nil {
			log.Info("previous results: none of the same source and scale", "source", cur.Source, "label", cur.Label)
			continue
		}
		compareBaselines(cur, name, prev, tolerance)
		for _, s := range cur.Scenarios {
			if sh := s.BaselineShift; sh != nil && sh.Moved {
				log.Warn("ratio moved because its baseline did", "source", cur.Source, "scenario", s.Name,
					"previous", name, "baseline_change", sh.BaselineChange, "floe_change", sh.MedianChange)
			}
		}
	}
}
