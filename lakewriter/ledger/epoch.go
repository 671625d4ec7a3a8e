package ledger

import (
	"fmt"
	"strconv"
)

// Fencing records. Every run of a pipeline has an epoch, one more than the
// highest any of the pipeline's tables records when it starts. Before it
// reads a table's position it claims the table: an empty snapshot whose
// summary carries a Claim (and no PropPipeline, so that it is never taken
// for an ingestion commit). Its own commits then carry PropEpoch. The
// table's epoch for a pipeline is the one recorded by the newest snapshot
// of main's history that is a commit or a claim of that pipeline (EpochOf);
// a run commits only on top of a table whose epoch is not above its own
// (see docs/checkpoint-protocol.md, "Fencing").

// The summary property of a claim and the version of its encoding.
const (
	// PropClaim holds a JSON Claim on the snapshot a run claims a table with.
	PropClaim = "floe.claim"
	// ClaimVersion is the version of the PropClaim encoding.
	ClaimVersion = 1
)

// Claim is the record of a run taking a table over.
type Claim struct {
	Version  int    `json:"v"`
	Pipeline string `json:"pipeline"`
	Epoch    int64  `json:"epoch"`
	// Run names the claiming process (host, pid and a random part): it
	// makes two claims of one epoch by two runs distinct, and says who
	// took a table over.
	Run string `json:"run"`
}

// Props encodes the claim as snapshot summary properties; the version is
// set by the encoding.
func (c Claim) Props() map[string]string {
	c.Version = ClaimVersion
	return map[string]string{PropClaim: encodeJSON(c)}
}

// ParseClaim decodes a PropClaim value.
func ParseClaim(s string) (Claim, error) {
	var c Claim
	if err := parseRecord(PropClaim, s, &c, func() int { return c.Version }, ClaimVersion); err != nil {
		return Claim{}, err
	}
	if c.Epoch < 1 {
		return Claim{}, fmt.Errorf("parse %s: epoch %d, want >= 1", PropClaim, c.Epoch)
	}
	return c, nil
}

// Owned is what a snapshot summary records of a pipeline's fencing.
type Owned struct {
	// Epoch is the epoch of the run that wrote the snapshot (0: a commit
	// of a build before fencing).
	Epoch int64
	// Claim is set when the snapshot is a claim, nil for a commit (but see
	// lakewriter.Table.Epoch).
	Claim *Claim
}

// EpochOf reports whether a snapshot summary is a commit or a claim of
// pipeline and what epoch it records. A record of an unknown version is an
// error, never read as epoch 0.
func EpochOf(props map[string]string, pipeline string) (Owned, bool, error) {
	if IsCommitOf(props, pipeline) {
		switch v := props[PropVersion]; v {
		case propsVersionV1:
			return Owned{}, true, nil
		case PropsVersion:
			e, err := parseEpoch(props[PropEpoch])
			return Owned{Epoch: e}, true, err
		default:
			return Owned{}, true, fmt.Errorf("snapshot summary has %s=%q, this build reads %q or %q", PropVersion, v, propsVersionV1, PropsVersion)
		}
	}
	s, ok := props[PropClaim]
	if !ok {
		return Owned{}, false, nil
	}
	c, err := ParseClaim(s)
	if err != nil {
		return Owned{}, true, err
	}
	if c.Pipeline != pipeline {
		return Owned{}, false, nil
	}
	return Owned{Epoch: c.Epoch, Claim: &c}, true, nil
}

// IsClaim reports whether a snapshot summary is a claim (of any pipeline).
func IsClaim(props map[string]string) bool { return props[PropClaim] != "" }

func parseEpoch(s string) (int64, error) {
	e, err := strconv.ParseInt(s, 10, 64)
	if err != nil || e < 1 {
		return 0, fmt.Errorf("parse %s: %q is no epoch (want an integer >= 1)", PropEpoch, s)
	}
	return e, nil
}
