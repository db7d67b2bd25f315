# The two commands of the README. Everything else is in scripts/ and the CLI.
.PHONY: demo test
demo:
	scripts/demo.sh
test:
	scripts/test.sh
