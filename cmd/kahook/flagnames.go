package main

import "github.com/urfave/cli/v2"

// The flag types kahook uses, each with its Names() computed once. cli
// v2's own Names() passes every name through a regular expression (it
// cuts v1-style "name, alias" strings) on every call, and each command
// run calls it O(flags²) times (runFlagActions asks IsSet of every flag,
// and IsSet looks the name up through the command's flags): about 1.6M
// of the 3.4M instructions of a `kahook check tcp` (issue 18, start-up).
// Everything else is the library's flag, promoted.
type (
	namedString struct {
		*cli.StringFlag
		names []string
	}
	namedBool struct {
		*cli.BoolFlag
		names []string
	}
	namedInt struct {
		*cli.IntFlag
		names []string
	}
	namedInt64 struct {
		*cli.Int64Flag
		names []string
	}
	namedUint struct {
		*cli.UintFlag
		names []string
	}
	namedFloat64 struct {
		*cli.Float64Flag
		names []string
	}
	namedDuration struct {
		*cli.DurationFlag
		names []string
	}
	namedStringSlice struct {
		*cli.StringSliceFlag
		names []string
	}
	namedGeneric struct {
		*cli.GenericFlag
		names []string
	}
)

func (f namedString) Names() []string      { return f.names }
func (f namedBool) Names() []string        { return f.names }
func (f namedInt) Names() []string         { return f.names }
func (f namedInt64) Names() []string       { return f.names }
func (f namedUint) Names() []string        { return f.names }
func (f namedFloat64) Names() []string     { return f.names }
func (f namedDuration) Names() []string    { return f.names }
func (f namedStringSlice) Names() []string { return f.names }
func (f namedGeneric) Names() []string     { return f.names }

// namedFlags replaces each flag of fs (in place) by its named* form; a
// flag of another type stays. The names are the flag's Name and Aliases
// as they are: kahook has no v1-style "name, alias" strings, which is all
// cli's regular expression changes (TestFlagNames compares them with
// cli's own Names() over the whole tree).
func namedFlags(fs []cli.Flag) {
	for i, f := range fs {
		switch x := f.(type) {
		case *cli.StringFlag:
			fs[i] = namedString{x, names(x.Name, x.Aliases)}
		case *cli.BoolFlag:
			// cli's completion hides a hidden flag only when it is a
			// *cli.BoolFlag: those stay as they are.
			if !x.Hidden {
				fs[i] = namedBool{x, names(x.Name, x.Aliases)}
			}
		case *cli.IntFlag:
			fs[i] = namedInt{x, names(x.Name, x.Aliases)}
		case *cli.Int64Flag:
			fs[i] = namedInt64{x, names(x.Name, x.Aliases)}
		case *cli.UintFlag:
			fs[i] = namedUint{x, names(x.Name, x.Aliases)}
		case *cli.Float64Flag:
			fs[i] = namedFloat64{x, names(x.Name, x.Aliases)}
		case *cli.DurationFlag:
			fs[i] = namedDuration{x, names(x.Name, x.Aliases)}
		case *cli.StringSliceFlag:
			fs[i] = namedStringSlice{x, names(x.Name, x.Aliases)}
		case *cli.GenericFlag:
			fs[i] = namedGeneric{x, names(x.Name, x.Aliases)}
		}
	}
}

func names(name string, aliases []string) []string {
	return append([]string{name}, aliases...)
}

// namedFlagsIn applies namedFlags to every command of the tree.
func namedFlagsIn(cmds []*cli.Command) {
	for _, c := range cmds {
		namedFlags(c.Flags)
		namedFlagsIn(c.Subcommands)
	}
}

// libFlag is the library's flag inside a named* form (f itself if it is
// none).
func libFlag(f cli.Flag) cli.Flag {
	switch x := f.(type) {
	case namedString:
		return x.StringFlag
	case namedBool:
		return x.BoolFlag
	case namedInt:
		return x.IntFlag
	case namedInt64:
		return x.Int64Flag
	case namedUint:
		return x.UintFlag
	case namedFloat64:
		return x.Float64Flag
	case namedDuration:
		return x.DurationFlag
	case namedStringSlice:
		return x.StringSliceFlag
	case namedGeneric:
		return x.GenericFlag
	}
	return f
}
