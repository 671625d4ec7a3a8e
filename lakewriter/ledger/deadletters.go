package ledger

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Summary property keys of a commit to a dead-letter table
// (<namespace>._floe_dead_letters), which holds the changes a pipeline
// could not write to their tables.
const (
	// PropDeadLetters is a JSON DeadLetters: per source table, how far
	// the table's dead letters are in the dead-letter table.
	PropDeadLetters = "floe.dead-letters"
	// PropDeadLettersCommit identifies one such commit (its Token):
	// "<pipeline>/<epoch>/<checkpoint>".
	PropDeadLettersCommit = "floe.dead-letters.commit"
)

// DeadLettersVersion is the version of the PropDeadLetters encoding.
const DeadLettersVersion = 1

// DeadLetters is what a dead-letter commit of one pipeline records. Each
// commit carries the marks of every source table of the pipeline that
// has any (the newest commit of the pipeline has them all), so a reader
// needs only that one.
type DeadLetters struct {
	Version  int    `json:"v"`
	Pipeline string `json:"pipeline"`
	// Tables maps a source table ("schema.table") to its mark.
	Tables map[string]DeadLetterMark `json:"tables"`
}

// DeadLetterMark is how far one source table's dead letters are in the
// dead-letter table.
type DeadLetterMark struct {
	// Position is the highest source position (capture.Position.String)
	// whose dead letters of the table are in the dead-letter table: the
	// position of the checkpoint they belong to.
	Position string `json:"position"`
	// Checkpoint is the checkpoint (floe.checkpoint) the table's newest
	// dead letters belong to; the table's own commit of that checkpoint
	// follows the dead-letter commit. Until the table records a
	// checkpoint at least this high, the dead letters of checkpoints
	// above the table's are in the dead-letter table but not yet
	// accounted for by the table.
	Checkpoint int64 `json:"checkpoint"`
	// Count is the number of the table's dead letters in the dead-letter
	// table, written by this pipeline.
	Count int64 `json:"count"`
}

// Props encodes a dead-letter commit's summary properties for the run of
// epoch at checkpoint. The version is set by the encoding.
func (d DeadLetters) Props(epoch, checkpoint int64) map[string]string {
	d.Version = DeadLettersVersion
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings, ints and a map of them always encode
	}
	return map[string]string{
		PropDeadLetters:       string(b),
		PropDeadLettersCommit: d.Pipeline + "/" + strconv.FormatInt(epoch, 10) + "/" + strconv.FormatInt(checkpoint, 10),
	}
}

// ParseDeadLetters decodes PropDeadLetters; a version this build does not
// know is an error.
func ParseDeadLetters(s string) (DeadLetters, error) {
	var d DeadLetters
	if err := json.Unmarshal([]byte(s), &d); err != nil {
		return DeadLetters{}, fmt.Errorf("parse %s: %w", PropDeadLetters, err)
	}
	if d.Version != DeadLettersVersion {
		return DeadLetters{}, fmt.Errorf("%s has version %d, this build reads %d", PropDeadLetters, d.Version, DeadLettersVersion)
	}
	if d.Tables == nil {
		d.Tables = map[string]DeadLetterMark{}
	}
	return d, nil
}

// DeadLettersOf returns a predicate for the dead-letter commits of
// pipeline, the shape lakewriter.Table.LatestProps takes.
func DeadLettersOf(pipeline string) func(map[string]string) bool {
	return func(props map[string]string) bool {
		s, ok := props[PropDeadLetters]
		if !ok {
			return false
		}
		var head struct {
			Pipeline string `json:"pipeline"`
		}
		return json.Unmarshal([]byte(s), &head) == nil && head.Pipeline == pipeline
	}
}
