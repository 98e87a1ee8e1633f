"""What a job costs on the node before its body runs, on the REAL Slurm test cluster: pyrule's own
stdlib-only helpers there (the measuring wrapper every job execs, a pack's runner) start Python
without the site's start-up hooks (site-packages `.pth` files, `sitecustomize`), which cost more
than a short job's body (issue 23, W8: 45 ms of CPU per job on the test machine, where a `.pth`
imports certifi). A Python body still runs in a Python that has them: it may need the site's
packages."""

from __future__ import annotations

import os
from pathlib import Path

from harness import ok, pipefile, write
from test_arrays import counting_sbatch, sbatch_calls


def test_pyrules_own_helpers_on_the_node_skip_the_site_hooks_a_python_body_keeps_them(slurm_cluster, tmp_path):
    hooks = tmp_path / "hooks"
    seen = tmp_path / "hooks.log"
    # sitecustomize is imported by `site` from sys.path (PYTHONPATH included): it stands for any
    # site hook. It notes the command line of each Python started on the node (in a Slurm job).
    write(hooks / "sitecustomize.py", f"""import os
if "SLURM_JOB_ID" in os.environ:
    with open("/proc/self/cmdline", "rb") as f:
        argv = f.read().split(b"\\0")
    with open({str(seen)!r}, "a") as f:
        f.write(" ".join(a.decode() for a in argv).replace("\\n", " ") + "\\n")
""")
    pipefile(tmp_path, """
        rule all:
            input: "alone.txt", [f"many/{i}.txt" for i in range(3)], [f"packed/{i}.txt" for i in range(3)], "py.txt"

        rule alone:
            output: "alone.txt"
            shell: echo alone > {output}

        rule many:
            output: "many/{i}.txt"
            shell: echo {i} > {output}

        rule packed:
            output: "packed/{i}.txt"
            group: "short"
            shell: echo {i} > {output}

        rule py:
            output: "py.txt"
            python:
                with open(output[0], "w") as f:
                    f.write("py\\n")
        """)
    env = {**slurm_cluster.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))}
    ok(tmp_path, "--executor", "slurm", "-j", "20", "-q", env=env, timeout=300)
    assert (tmp_path / "py.txt").read_text() == "py\n"
    assert [(tmp_path / "packed" / f"{i}.txt").read_text() for i in range(3)] == ["0\n", "1\n", "2\n"]
    started = Path(seen).read_text().splitlines() if seen.exists() else []
    # the Python body's runner ran the hooks (once); the 8 measuring wrappers and the pack's runner did not
    assert len(started) == 1 and "run.py" in started[0], started
    assert not [line for line in started if "pyrule_measure" in line or "pyrule_pack" in line], started


def test_a_detached_job_whose_script_an_earlier_pyrule_wrote_is_still_adopted(slurm_cluster, tmp_path):
    """Scripts written before the helpers started without site hooks (no `-S`) run the same job:
    a collecting run adopts it, it does not cancel and submit it again."""
    pipefile(tmp_path, """
        rule wsslow:
            output: "out.txt"
            shell: sleep 3; echo done > {output}
        """)
    ok(tmp_path, "--executor", "slurm", "--detach", env=slurm_cluster.env)
    script = tmp_path / ".pyrule" / "slurm" / "wsslow.a1.sh"
    text = script.read_text()
    assert '"$PYRULE_PYTHON" -S ' in text, text
    script.write_text(text.replace('"$PYRULE_PYTHON" -S ', '"$PYRULE_PYTHON" '))
    env, calls = counting_sbatch(tmp_path, slurm_cluster.env)
    c = ok(tmp_path, "--executor", "slurm", env=env, timeout=120)
    assert sbatch_calls(calls) == [], c.err
    assert "adopted Slurm job" in c.err, c.err
    assert (tmp_path / "out.txt").read_text() == "done\n"

