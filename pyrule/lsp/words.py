"""The language's words as the editor shows them: sections and helpers, with their documentation
(as docs/language.md words it)."""

from __future__ import annotations

from ..parse import grammar_keywords

SECTION_DOCS = {
    "output": "paths, optionally named (`table = \"x/{s}.tsv\"`); `temp(p)`, `protected(p)`, `directory(p)`",
    "input": "paths, lists, `expand(...)`, `rules.NAME.output`, or a function of `wildcards` returning a path, "
             "a list or a dict of named paths",
    "params": "`name = expr, ...`; strings may use the outputs' wildcards; a value may be a function of `wildcards`",
    "resources": "`cores = N` (default 1), `mem = \"2G\"` (K/M/G/T; a bare number means megabytes), `gpus = N`, "
                 "`runtime = \"2h\"` (a bare number means minutes), any other `name = N`",
    "log": "the job's log path (stdout and stderr go there unless the body redirects), started afresh at each run",
    "check": "`checksum` (default) or `mtime`",
    "retries": "extra attempts after a failure",
    "priority": "an integer: breaks ties between rules, and orders ready jobs",
    "env": "`NAME = expr, ...` exported to the job (as `str(value)`); a value may be a function of `wildcards`",
    "shell": "shell commands, run by `bash -euo pipefail`; `{input}`, `{output}`, `{params.x}`, ... are substituted",
    "python": "Python statements, run in a forked process; they see `input`, `output`, `params`, `wildcards`, "
              "`resources`, `log`, `shell(cmd)`, `report(key, value)` and `values`; `return VALUE` gives the job a value",
    "script": "a Python script file run as the job, with `snakemake` (also `pyrule`): `input`, `output`, "
              "`params`, `wildcards`, `log`, `resources`, `threads`, `config`; its content is part of the signature",
    "cache": "`False`: this rule's results are never restored from nor published to the cache (docs/cache.md)",
    "local": "`True`: with a cluster executor (`--executor`), the rule's jobs run on the machine pyrule runs on",
    "container": "an image the `shell:` body runs in (podman, docker, apptainer); `None`: not the top-level default",
    "venv": "a pip requirements file: the body runs with its environment, built once into a shared cache",
    "group": "a pack's name: with a cluster executor (`--executor`), the rule's short jobs started together run "
             "in one allocation (one submission per pack, not per job); `False`: never packed",
}

HELPER_DOCS = {
    "expand": "expand(pattern, **values): every combination (`expand(p, zip, a=..., b=...)` pairs them instead)",
    "glob_wildcards": "glob_wildcards(pattern): the wildcard values of existing files: "
                      "`glob_wildcards(\"reads/{s}.fastq\").s`",
    "temp": "temp(path): an output deleted once every job that consumes it has succeeded",
    "protected": "protected(path): an output made read-only, never rewritten without `--overwrite-protected`",
    "directory": "directory(path): an output that is a whole directory",
    "rules": "rules.NAME: a rule defined above (`rules.NAME.output`, `.input`, `.params`)",
    "checkpoints": "checkpoints.NAME.get(**wildcards).output: a checkpoint's outputs, in input functions",
    "values": "values.NAME.get(**wildcards): the value a job of rule NAME returned from its Python body "
              "(`return VALUE`), in params, resources, env and input functions; the reader waits for it",
    "ancient": "ancient(path): an input whose changes never make the job stale (its absence still does)",
    "touch": "touch(path): an output pyrule creates or updates once the body succeeds",
    "multiext": "multiext(prefix, ext, ...): the paths prefix+ext for each ext",
    "upto": "upto(N), in `resources: cores = upto(N)`: at most N cores, fewer under a smaller -j",
    "attempt": "attempt, in `resources: mem = \"2G\" * attempt`: the request grows with each retry (asked of a cluster executor)",
    "config": "config: the values of the `configfile:` files and `--config KEY=VALUE` (a dict)",
    "workflow": "workflow.rule(...), workflow.checkpoint(...): make rules from a `python:` block (the API's calls)",
}

# In bodies: `{NAME...}` fields pyrule substitutes
BODY_FIELDS = {
    "input": "the job's input paths (`{input[0]}`, `{input.name}`)",
    "output": "the job's output paths (`{output[0]}`, `{output.name}`)",
    "params": "the rule's params (`{params.name}`)",
    "wildcards": "the job's wildcard values (`{wildcards.name}` or `{name}`)",
    "resources": "the job's resources (`{resources.cores}`, `{resources.mem}`)",
    "log": "the job's log path",
    "rule": "the rule's name",
    "jobname": "the job's name, `RULE[wildcard=value,...]`",
    "config": "a config value (`{config[key]}`, `{config[a][b]}`)",
}


# The section of the cluster executor's options (its name is the executor's business: executors/).
OTHER_SECTION_DOC = "the options of the executor that submits the job to a cluster: `partition`, `account`, " \
                    "`qos`, `constraint`, `extra` (used with `--executor`)"


def section_doc(name: str) -> str | None:
    return SECTION_DOCS.get(name) or (OTHER_SECTION_DOC if name in sections() else None)


def sections() -> list[str]:
    kw = grammar_keywords()
    return kw["sections"] + kw["bodies"]


def statements() -> list[str]:
    return grammar_keywords()["statements"]
