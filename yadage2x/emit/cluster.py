"""profiles/slurm/config.yaml: the Snakemake profile that runs an emitted workflow on a SLURM
cluster through Snakemake's own executor plugin (we never schedule anything ourselves).

What a step asks of the batch system is not here but in its rule (`threads:` and `resources:
mem_mb, runtime, slurm_partition`, read from the yadage step by emit/resources.py), so the same
Snakefile carries it to any executor; the profile holds only what is the site's business: the
executor, how many jobs at once, defaults for steps that declare nothing, and how to behave on a
shared file system. The planner's bookkeeping rules are `localrules` in the Snakefile and run on
the submit host, not as jobs.
"""
from __future__ import annotations

SLURM_PROFILE = """\
# Snakemake profile for a SLURM cluster. From the submit host, in any folder:
#   snakemake -s WORKFLOW/Snakefile --directory RUN --profile WORKFLOW/profiles/slurm
# Needs snakemake-executor-plugin-slurm beside Snakemake, and a file system shared by the submit
# host and the nodes (RUN, and this workflow's folder: each job reads the Snakefile).
# Each step's rule asks for what its yadage step declared (mem_mb, runtime in minutes, threads,
# slurm_partition: see the Snakefile and loss-report.json); the defaults below serve the others.
# The bookkeeping (rules all, yadage2x_results and stages that only publish) runs on the submit
# host (localrules): it is the planner's, not a job's.
executor: slurm
# SLURM jobs queued or running at once
jobs: 100
default-resources:
  # minutes; SLURM ends a job that runs longer
  runtime: 60
  # slurm_partition: NAME   # else the cluster's default partition
  # slurm_account: NAME     # where the site asks for one
# a node's writes can reach the submit host's view of a shared file system late
latency-wait: 60
# a failed step does not stop the steps that do not need it; run the same command again to
# resume: finished jobs are kept, the failed one and those after it run
keep-going: true
rerun-incomplete: true
# Where the cluster has no accounting database (sacct fails), ask squeue for job states:
# slurm-status-command: squeue
"""


def slurm_profile() -> str:
    """The text of profiles/slurm/config.yaml (the same for every workflow)."""
    return SLURM_PROFILE
