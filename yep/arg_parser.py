"""The argparse of yep's commands (yep report, memory, serve, mprof): a
mistake is one UsageError line (usage.py), never argparse's usage block.
`python -m yep` parses its own options (cli.py), so a profiled program's
process never imports argparse."""
import argparse

from .usage import UsageError, did_you_mean


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake raises UsageError (for fail) instead of exiting."""

    def error(self, message):
        unknown = message.partition("unrecognized arguments: ")[2].split()
        hint = did_you_mean(unknown[0], self._option_string_actions) if unknown else ""
        raise UsageError(f"{self.prog}: {message}{hint} (see {self.prog} -h)")

    def add_program_arguments(self):
        """The program to run, as `python` takes it: script.py [args] or -m
        module [args]. Every word from the script or the module on is the
        program's, options and `--` included (see parse_program_args)."""
        self.add_argument("-m", dest="module", metavar="MODULE", help="run a library module as a script")
        self.add_argument("script", nargs="?", help="the script to run (or -- script)")
        self.add_argument("args", nargs="*", help="its arguments")

    def parse_program_args(self, argv):
        """parse_args for a parser with add_program_arguments: args.script or
        args.module, and args.args, the program's own words."""
        options, script, module, program = self._split_program(list(argv))
        args = self.parse_args(options)
        if script is None and module is None:
            self.error("no script or -m module to run")
        args.script, args.module, args.args = script, module, program
        return args

    def _split_program(self, argv):
        """(yep's options, script, module, the program's arguments): the
        first word that is neither an option nor an option's value starts
        the program, as do -m MODULE and --."""
        i = 0
        while i < len(argv):
            word = argv[i]
            if word == "--" or not word.startswith("-") or word == "-":
                start = i + 1 if word == "--" else i
                if start >= len(argv):
                    break
                return argv[:i], argv[start], None, argv[start + 1:]
            if word.startswith("-m") and not word.startswith("--"):
                if word == "-m" and i + 1 >= len(argv):
                    self.error("-m needs a module name")
                module, rest = (argv[i + 1], i + 2) if word == "-m" else (word[2:], i + 1)
                return argv[:i], None, module, argv[rest:]
            action = self._option_string_actions.get(word)
            i += 2 if action is not None and action.nargs != 0 else 1
        return argv, None, None, []
