package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// portField is a JSON port as a string ("143", Nauthilus's type) or a
// number (143): Dovecot's Lua hands some request fields to scripts as
// numbers, and a script that sends one unconverted means the same port.
// Anything else (a fraction, a negative, an object) is refused.
type portField string

func (p *portField) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = portField(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		*p = ""
		return nil
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	if err != nil {
		return errors.New("a port must be a string or a whole number from 0 to 65535")
	}
	*p = portField(strconv.FormatUint(n, 10))
	return nil
}
