package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/migrate"
)

type migrateOptions struct{ output string }

func (o *migrateOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.output, "output", "", "write the backline file here (mode 0600) instead of standard output")
}

// runMigrate is `backline migrate nauthilus FILE`: the converted file on
// standard output (or --output), the report on standard error, one line
// per Nauthilus key that was dropped or changed meaning. Exit 0 when the
// file was converted (whatever was dropped), 1 when FILE could not be read
// as YAML, 2 on a bad command line.
func runMigrate(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newCommandFlags("migrate nauthilus", stderr)
	var o migrateOptions
	o.register(fs)
	if len(args) == 0 || args[0] != "nauthilus" {
		if wantsHelp(args) {
			fs.SetOutput(stdout)
			fs.Usage()
			return exitOK
		}
		fmt.Fprintln(stderr, "backline migrate: the source is required: backline migrate nauthilus FILE")
		return exitUsage
	}
	if wantsHelp(args[1:]) {
		fs.SetOutput(stdout)
		fs.Usage()
		return exitOK
	}
	files, code, ok := parseWithPositionals(fs, args[1:])
	if !ok {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "backline migrate nauthilus: exactly one FILE is required (- for standard input)")
		return exitUsage
	}
	data, err := readMigrateInput(files[0], stdin)
	if err != nil {
		fmt.Fprintf(stderr, "backline migrate nauthilus: %v\n", err)
		return exitFail
	}
	res, err := migrate.Nauthilus(data)
	if err != nil {
		printConfigError(files[0], err, stderr)
		return exitFail
	}
	if err := writeMigrateOutput(o.output, files[0], res.YAML, stdout); err != nil {
		fmt.Fprintf(stderr, "backline migrate nauthilus: %v\n", err)
		return exitFail
	}
	dropped, changed := 0, 0
	for _, n := range res.Notes {
		fmt.Fprintln(stderr, n)
		if n.Kind == migrate.Dropped {
			dropped++
		} else {
			changed++
		}
	}
	fmt.Fprintf(stderr, "backline migrate nauthilus: %d keys dropped, %d changed meaning; check the result with `backline check --config FILE` (--no-secrets away from production)\n", dropped, changed)
	return exitOK
}

// parseWithPositionals parses flags that may come before or after the
// positional arguments (FILE --output x as well as --output x FILE).
func parseWithPositionals(fs *flag.FlagSet, args []string) (positionals []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			return nil, exitUsage, false
		}
		args = fs.Args()
		if len(args) == 0 {
			return positionals, 0, true
		}
		if args[0] == "--" {
			return append(positionals, args[1:]...), 0, true
		}
		positionals = append(positionals, args[0])
		args = args[1:]
	}
}

// readMigrateInput reads at most the config package's size limit, so a
// huge file is refused without being read whole.
func readMigrateInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", name)
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, config.MaxConfigFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > config.MaxConfigFileSize {
		return nil, fmt.Errorf("%s is larger than %d KiB", name, config.MaxConfigFileSize>>10)
	}
	return data, nil
}

// writeMigrateOutput writes the result to stdout or to path (0600: it
// holds the Nauthilus file's passwords), never over the input.
func writeMigrateOutput(path, input string, data []byte, stdout io.Writer) error {
	if path == "" || path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	if input != "-" {
		a, errA := filepath.Abs(path)
		b, errB := filepath.Abs(input)
		if errA == nil && errB == nil && a == b {
			return fmt.Errorf("--output %s would overwrite the Nauthilus file", path)
		}
		if sa, err := os.Stat(path); err == nil {
			if sb, err := os.Stat(input); err == nil && os.SameFile(sa, sb) {
				return fmt.Errorf("--output %s would overwrite the Nauthilus file", path)
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
