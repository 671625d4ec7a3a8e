package problem

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Checks collects the problems of one Validate. Its checks word the same
// mistake the same way in every package.
type Checks struct {
	List List
}

// Add records a problem at field with a formatted message.
func (c *Checks) Add(field, fix, format string, args ...any) {
	c.List = append(c.List, New(field, fix, format, args...))
}

// Required reports an empty value and says whether the value is set.
func (c *Checks) Required(field, value, fix string) bool {
	if value == "" {
		c.Add(field, fix, "required")
	}
	return value != ""
}

// OneOf reports a value outside allowed, suggesting the closest allowed
// one, and says whether the value is allowed.
func (c *Checks) OneOf(field, value string, allowed ...string) bool {
	if slices.Contains(allowed, value) {
		return true
	}
	fix := "use " + strings.Join(allowed, " or ")
	if s := Suggest(value, allowed); s != "" {
		fix += fmt.Sprintf(" (did you mean %s?)", s)
	}
	c.Add(field, fix, "unknown value %q", value)
	return false
}

// Between reports n outside lo..hi.
func (c *Checks) Between(field string, n, lo, hi int) {
	if n < lo || n > hi {
		c.Add(field, fmt.Sprintf("use a value from %d to %d", lo, hi), "%d is out of range", n)
	}
}

// Positive reports a duration that is zero or negative.
func (c *Checks) Positive(field string, d time.Duration) {
	if d <= 0 {
		c.Add(field, "use a positive duration such as 10s", "%s is not positive", d)
	}
}

// NotNegative reports a negative duration, for a step that 0 turns off.
func (c *Checks) NotNegative(field string, d time.Duration) {
	if d < 0 {
		c.Add(field, "use a duration such as 24h, or 0 to turn the step off", "%s is negative", d)
	}
}

// Suggest returns the candidate closest to s within edit distance 2 (case
// of s ignored), or "".
func Suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := editDistance(strings.ToLower(s), c); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
