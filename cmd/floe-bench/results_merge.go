package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"
)

// resultsV1 is the version 1 file: one source, its fields at the top
// level and in the machine.
type resultsV1 struct {
	Version   int        `json:"version"`
	Date      string     `json:"date"`
	StartedAt string     `json:"started_at"`
	Label     string     `json:"label"`
	Command   string     `json:"command"`
	Machine   machineV1  `json:"machine"`
	Scale     Scale      `json:"scale"`
	Scenarios []Scenario `json:"scenarios"`
}

type machineV1 struct {
	Machine
	Source        string `json:"source"`
	SourceVersion string `json:"source_version"`
	FloeVersion   string `json:"floe_version"`
}

// upgradeParallelism moves a version 1-3 source's single snapshot
// parallelism (Scale.Parallelism) to where version 4 keeps it: the
// scale's list and the snapshot scenario.
func upgradeParallelism(src *SourceResults) {
	n := src.Scale.Parallelism
	if n == 0 {
		return
	}
	src.Scale.Parallelism = 0
	src.Scale.SnapshotParallelism = []int{n}
	for i := range src.Scenarios {
		if s := &src.Scenarios[i]; s.Name == scSnapshot && s.Parallelism == 0 {
			s.Parallelism = n
		}
	}
}

// readResults decodes a results file of version 1 to 5 into the current
// form (a version 1 file becomes one SourceResults).
func readResults(b []byte) (*Results, error) {
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("decode results: %w", err)
	}
	switch head.Version {
	case 1:
		var v1 resultsV1
		if err := json.Unmarshal(b, &v1); err != nil {
			return nil, fmt.Errorf("decode results v1: %w", err)
		}
		r := &Results{Version: resultsVersion, Date: v1.Date, Machine: v1.Machine.Machine, Sources: []SourceResults{{
			Source: v1.Machine.Source, SourceVersion: v1.Machine.SourceVersion, FloeVersion: v1.Machine.FloeVersion,
			StartedAt: v1.StartedAt, Label: v1.Label, Command: v1.Command, Scale: v1.Scale, Scenarios: v1.Scenarios,
		}}}
		upgradeParallelism(&r.Sources[0])
		return r, nil
	case 2, 3, 4, 5, resultsVersion:
		// Versions 2 and 3 have the same shape without the newer fields
		// (version 2: without the spreads and shifts; its Ratio is the
		// quotient of the medians, kept as it was written).
		var r Results
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("decode results v%d: %w", head.Version, err)
		}
		r.Version = resultsVersion
		for i := range r.Sources {
			upgradeParallelism(&r.Sources[i])
		}
		return &r, nil
	}
	return nil, fmt.Errorf("results version %d is not supported (this build reads 1 to %d)", head.Version, resultsVersion)
}

// readResultsFile reads and decodes path.
func readResultsFile(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read results: %w", err)
	}
	r, err := readResults(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// mergeResults returns base with the sources of fresh put in: a source
// kind present in both takes fresh's run, the others are kept. The
// machine is fresh's, the date base's; sources are in allSources order.
func mergeResults(base, fresh *Results) *Results {
	out := &Results{Version: resultsVersion, Date: base.Date, Machine: fresh.Machine}
	for _, s := range base.Sources {
		if !slices.ContainsFunc(fresh.Sources, func(f SourceResults) bool { return f.Source == s.Source }) {
			out.Sources = append(out.Sources, s)
		}
	}
	out.Sources = append(out.Sources, fresh.Sources...)
	slices.SortStableFunc(out.Sources, func(a, b SourceResults) int { return sourceOrder(a.Source) - sourceOrder(b.Source) })
	return out
}

// sourceOrder is kind's index in allSources (unknown kinds last).
func sourceOrder(kind string) int {
	if i := slices.Index(allSources, kind); i >= 0 {
		return i
	}
	return len(allSources)
}

// renderFile reads a results file of any version, summarizes every
// scenario again from its runs with this build's rules (paired ratios,
// spreads, the current targets; baseline shifts are left out) and
// returns its markdown. The file is not changed.
func renderFile(path string) (string, error) {
	r, err := readResultsFile(path)
	if err != nil {
		return "", err
	}
	for i := range r.Sources {
		src := &r.Sources[i]
		interval, err := time.ParseDuration(src.Scale.CheckpointInterval)
		if err != nil {
			return "", fmt.Errorf("%s: %s checkpoint_interval %q: %w", path, src.Source, src.Scale.CheckpointInterval, err)
		}
		for j := range src.Scenarios {
			src.Scenarios[j].BaselineShift = nil
			src.Scenarios[j].summarize(interval.Seconds())
		}
		setScaling(src.Scenarios)
		setPerTable(src.Scenarios)
	}
	return markdown(r), nil
}
