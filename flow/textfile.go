package flow

import "fmt"

// BOM is the UTF-8 byte order mark some editors and spreadsheet programs
// put at the start of a CSV file; readers drop it.
const BOM = "\xef\xbb\xbf"

// Unterminated is the skip for a text file whose last line has no
// newline. flow-export and nfdump end every line with one, so such a line
// is where a copy or a write was cut: it may parse in full and still be
// wrong (an AS 65000 cut to 650), so it is not read.
func Unterminated(path string, line int64, text string) Skip {
	if len(text) > 60 {
		text = text[:60] + "..."
	}
	return Skip{Path: path, Offset: -1, Line: line, Reason: "truncated", Count: 1,
		Detail: fmt.Sprintf("the last line has no newline, so the file was cut inside it; it is not read (%q)", text)}
}
