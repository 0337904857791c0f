"""The command line: list, train, evaluate, sample, plot, and for sentences reconstruct and interpolate. The flags
are made from the fields of the configs (data, training, each model's and each guide's); a run writes its whole
configuration to runs/<name>/config.json, from which it can be re-run or resumed. The work itself is
ppl_vae/runs/'s."""
import argparse
import ctypes
import os
import sys
import traceback
from pathlib import Path

import numpy as np
import pyro
import torch

from ppl_vae import bounds, distributed, evaluate, figures, options, plots, rundir, text
from ppl_vae.data import DataConfig, DataError
from ppl_vae.runs import configuration, life, matrix, report
from ppl_vae.runs.validation import first_line
from ppl_vae.train import TrainConfig
from ppl_vae.variants import GUIDES, SCHEMES, VARIANTS, is_user_pair, lookup, schemes_of, user_frame

# the flags that name a run's pair or its source, which config.json holds for a resumed run
DEFINING = ("model", "guide", "scheme", "seed", "config")


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one line with a pointer to --help, rather than the whole usage block first."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def no_owners(config_class):
    return []


def user_pair(argv):
    """The user's pair file that a train command line names (--model FILE.py:NAME, or the variant of --config's
    file), whose options become flags of their own; None otherwise."""
    if not argv or argv[0] != "train":
        return None
    before = argparse.ArgumentParser(add_help=False)
    before.add_argument("--model")
    before.add_argument("--config", type=Path)
    known, _ = before.parse_known_args(argv[1:])
    spec = known.model or (configuration.upgrade(rundir.read_json(known.config))["variant"] if known.config else None)
    return spec if spec and is_user_pair(spec) else None


def invocation(prog):
    """How the command is typed: `python run.py` for the script, `ppl-vae` for the installed command."""
    return f"python {prog}" if prog.endswith(".py") else prog


def build_parser(argv=None, prog="run.py"):
    """The command line's parser, named `prog`; for `train --model FILE.py:NAME` (argv), with the flags of that
    pair's options."""
    parser = OneLineParser(prog=prog, description=__doc__)
    parser.set_defaults(prog=prog)
    commands = parser.add_subparsers(dest="command", required=True)
    list_cmd = commands.add_parser("list", help="list the variants, the guides and the training schemes, one per "
                                   "line")
    list_cmd.add_argument("--matrix", action="store_true", help="instead, what trains with what: for every variant, "
                          "each guide with each objective and each scheme, 'trains' or the line the run is refused "
                          "with (Markdown; minutes: every run is validated on its data)")

    train_cmd = commands.add_parser("train", help="train a pair; writes runs/<name>/")
    train_cmd.add_argument("--model", default=argparse.SUPPRESS, metavar="VARIANT|FILE.py:NAME|module:NAME",
                           help=f"a variant, a named default pair ({', '.join(VARIANTS)}; default "
                                f"{configuration.DEFAULT_VARIANT}), or a user's file or module that declares a "
                                "Variant NAME, or a build(image_shape) NAME that returns (model, guide) (docs/pairs.md)")
    train_cmd.add_argument("--guide", default=argparse.SUPPRESS, choices=list(GUIDES),
                           help=f"the guide, in place of the variant's own ({invocation(prog)} list)")
    spec = user_pair(argv)
    declared = lookup(spec) if spec else None
    schemes = schemes_of(declared) if spec else SCHEMES
    train_cmd.add_argument("--scheme", default=argparse.SUPPRESS, choices=list(schemes),
                           help=f"how it trains, in place of the variant's own ({invocation(prog)} list)")
    option_fields = {
        **options.add_flags(train_cmd, "train", [TrainConfig], no_owners),
        **options.add_flags(train_cmd, "data", [DataConfig], no_owners),
        **(options.add_flags(train_cmd, "model", [declared.config] if declared.config else [], no_owners,
                             f"options of {spec}") if spec else
           options.add_flags(train_cmd, "model", list(dict.fromkeys(v.config for v in VARIANTS.values() if v.config)),
                             configuration.owners)),
        **options.add_flags(train_cmd, "guide", [g.config for g in GUIDES.values() if g.config], configuration.owners),
        **options.add_flags(train_cmd, "scheme", list(dict.fromkeys(s.config for s in schemes.values() if s.config)),
                            configuration.owners),
        **options.add_flags(train_cmd, "device", [life.DeviceConfig], no_owners),
        **options.add_flags(train_cmd, "processes", [distributed.ProcessesConfig], no_owners),
    }
    train_cmd.set_defaults(option_fields=option_fields)  # what --resume may change: the fields marked resumable
    train_cmd.add_argument("--seed", type=int, default=argparse.SUPPRESS, help="seed of networks, batches, samples")
    train_cmd.add_argument("--config", type=Path, help="start from this config.json (flags override it)")
    train_cmd.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue this run from its last checkpoint")
    train_cmd.add_argument("--name", help="run folder name (default <model>-<date>-<time>)")
    train_cmd.add_argument("--runs-dir", type=Path, default=Path("runs"), help="where run folders go (default runs/)")
    train_cmd.add_argument("--overwrite", action="store_true", help="replace an existing run folder of the same name")

    evaluate_cmd = commands.add_parser("evaluate", help="reconstruction, ELBO and importance-weighted NLL of a "
                                       "trained run")
    evaluate_cmd.add_argument("run_dir", type=Path)
    options.add_flags(evaluate_cmd, "evaluate", [report.EvaluateConfig], no_owners)
    bounds_cmd = commands.add_parser("bounds", help="how tight is the estimate: IWAE_k, AIS and, on images simulated "
                                     "from the model, BDMC's upper bound, with their cost; bounds.json, bounds.png")
    bounds_cmd.add_argument("run_dir", type=Path)
    options.add_flags(bounds_cmd, "bounds", [bounds.BoundsConfig], no_owners)
    sample_cmd = commands.add_parser("sample", help="draw images from a trained run's model")
    sample_cmd.add_argument("run_dir", type=Path)
    options.add_flags(sample_cmd, "sample", [life.SampleConfig], no_owners)
    reconstruct_cmd = commands.add_parser("reconstruct", help="a run of sentences: encode sentences (the mean of "
                                          "q(z | x)) and decode them greedily")
    reconstruct_cmd.add_argument("run_dir", type=Path)
    reconstruct_cmd.add_argument("sentences", nargs="+", metavar="SENTENCE", help="words split on spaces")
    interpolate_cmd = commands.add_parser("interpolate", help="a run of sentences: the sentences decoded greedily "
                                          "from points on the line between two sentences' codes (a homotopy)")
    interpolate_cmd.add_argument("run_dir", type=Path)
    interpolate_cmd.add_argument("first", metavar="SENTENCE_A")
    interpolate_cmd.add_argument("last", metavar="SENTENCE_B")
    options.add_flags(interpolate_cmd, "interpolate", [text.InterpolateConfig], no_owners)
    plot_cmd = commands.add_parser("plot", help="pictures of trained runs side by side, one panel per run")
    plot_cmd.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    plot_cmd.add_argument("--kind", choices=figures.KINDS, required=True,
                          help="; ".join(f"{kind}: {text}" for kind, text in figures.KINDS.items()))
    plot_cmd.add_argument("--pca", action="store_true",
                          help="add a PCA panel fitted on the first run's training images (kinds latent, interpolation)")
    plot_cmd.add_argument("-o", "--output", type=Path, help="PNG to write (default FIRST_RUN_DIR/KIND.png)")
    for command in (evaluate_cmd, bounds_cmd, sample_cmd):
        command.add_argument("--overwrite", action="store_true", help="replace files of the same name")
    for command in (list_cmd, evaluate_cmd, bounds_cmd, sample_cmd, reconstruct_cmd, interpolate_cmd, plot_cmd):
        options.add_flags(command, "device", [life.DeviceConfig], no_owners)
    options.add_flags(evaluate_cmd, "processes", [distributed.ProcessesConfig], no_owners)
    return parser


def given_options(args):
    """section -> {field: value} of the option flags given on the command line."""
    sections = {}
    for dest, value in vars(args).items():
        section, _, name = dest.partition(".")
        if name:
            sections.setdefault(section, {})[name] = value
    return sections


def section(args, config_class, name):
    """The options of one section of the command line (evaluate, device, ...), defaults where not given."""
    return options.make(config_class, given_options(args).get(name, {}), f"{args.command}'s options")


def device_of(args):
    return life.resolve_device(section(args, life.DeviceConfig, "device").device)


def train_config(args):
    """The run's configuration: the variant's defaults (or --config), then the flags given on the command line."""
    given, sections = vars(args), given_options(args)
    if args.config:
        config = configuration.upgrade(rundir.read_json(args.config))
        variant = given.get("model", config["variant"])
        if (variant, given.get("guide", config["guide"]["name"]), given.get("scheme", config["scheme"]["name"])) != (
                config["variant"], config["guide"]["name"], config["scheme"]["name"]):
            # another pair or scheme: its own defaults for the programs and the scheme, the file's for data and training
            config = {**configuration.configure(variant, given.get("guide"), scheme=given.get("scheme")),
                      "data": config["data"], "train": config["train"], "seed": config["seed"]}
    else:
        config = configuration.configure(given.get("model", configuration.DEFAULT_VARIANT), given.get("guide"),
                                         scheme=given.get("scheme"))
    for name, values in sections.items():
        if name in configuration.SECTIONS:  # the rest (device, processes) say where it runs, not what
            configuration.update(config, name, values)
    if "seed" in given:
        config["seed"] = given["seed"]
    return config


def cmd_train(args):
    if args.resume:
        fixed = [flag for dest, (flag, f) in args.option_fields.items()
                 if dest in vars(args) and not f.metadata["resumable"]]
        fixed += [f"--{name}" for name in DEFINING if getattr(args, name, None) is not None]
        if fixed:
            resumable = [flag for flag, f in args.option_fields.values() if f.metadata["resumable"]]
            raise ValueError(f"--resume continues {args.resume} as configured; only {', '.join(resumable)} may be "
                             f"given with it (got {', '.join(sorted(fixed))})")
        config = configuration.load_config(args.resume)
        config["train"]["epochs"] = given_options(args).get("train", {}).get("epochs", config["train"]["epochs"])
        run_dir = args.resume
    else:
        config = train_config(args)
        run_dir = args.runs_dir / (args.name or life.default_name(config))
    processes = section(args, distributed.ProcessesConfig, "processes").devices
    if processes and distributed.is_lead():  # refused before Lightning starts the other processes
        life.validate_run(config, device_of(args), processes)
    try:
        life.train(config, run_dir, device_of(args), resume=bool(args.resume), overwrite=args.overwrite,
                   fabric=launch(args))
    except KeyboardInterrupt:
        print(f"\ninterrupted; continue with: {invocation(args.prog)} train --resume {run_dir}", file=sys.stderr)
        return 130
    except FloatingPointError as e:
        done = len(rundir.read_metrics(run_dir))
        kept = f"{run_dir} keeps its checkpoint of epoch {done}" if done else "no epoch had finished"
        if distributed.is_lead():
            print(f"{args.prog} train: error: {e}; stopped: {kept}. A smaller --lr or a longer --kl-anneal may help.",
                  file=sys.stderr)
        return 1
    if not distributed.is_lead():
        return 0
    last = rundir.read_metrics(run_dir)[-1]
    print(f"after {last['epoch']} epochs: validation ELBO {last['valid_elbo']:.2f}, reconstruction log p(x | z) "
          f"{last['valid_recon']:.2f} nats per image")
    print(f"wrote {run_dir}/: {' '.join(sorted(path.name for path in run_dir.iterdir()))}")
    return 0


def refuse_existing(paths, overwrite):
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} exists; pass --overwrite to replace it")


def launch(args):
    """Lightning's processes for --devices, or None: one process, as by default."""
    processes = section(args, distributed.ProcessesConfig, "processes")
    if not processes.devices:
        return None
    return distributed.launch(processes.devices, processes.num_nodes, device_of(args).type, processes.strategy)


def cmd_evaluate(args):
    device, cfg = device_of(args), section(args, report.EvaluateConfig, "evaluate")
    if cfg.images:
        if section(args, distributed.ProcessesConfig, "processes").devices:
            raise ValueError("--devices shares out a run's test images; --images are scored in one process")
        return evaluate_images(args, cfg, device)
    names = report.result_names(cfg.iw_samples, cfg.test_images)
    refuse_existing([args.run_dir / name for name in names], args.overwrite)
    rundir.check_writable(args.run_dir)
    fabric = launch(args)
    config, model, guide, data = life.load_run(args.run_dir, fabric.device if fabric else device)
    results, log_px = report.evaluate_run(model, guide, config, data, cfg.iw_samples, cfg.chunk_size,
                                          cfg.iw_batch_size, cfg.test_images, fabric)
    if results is None:  # not the first process
        return 0
    report.print_report(results, data)
    report.write_results(args.run_dir, names, results, log_px)
    print(f"wrote {args.run_dir / names[0]}" + (f" and {names[1]}" if log_px is not None else ""))
    return 0


def evaluate_images(args, cfg, device):
    """The importance-weighted log p(x) of a user's images under the run's pair."""
    images = Path(cfg.images)
    output = args.run_dir / f"{images.stem}_log_likelihood.npy"
    refuse_existing([output], args.overwrite)
    rundir.check_writable(args.run_dir)
    config, model, guide, _ = life.load_run(args.run_dir, device, with_data=False)
    x = report.read_images(images, model, config["image_shape"], device)
    log_px = report.iw_log_likelihoods(model, guide, ((batch,) for batch in x.split(cfg.iw_batch_size)), len(x),
                                       cfg.iw_samples or evaluate.IW_SAMPLES, cfg.chunk_size)
    rundir.atomic_write(output, lambda f: np.save(f, log_px.numpy()))
    print(f"NLL {-log_px.mean().item():.3f} ± {(log_px.std() / len(log_px) ** 0.5).item():.3f} nats per image over "
          f"{len(log_px)} images of {images}; wrote {output}")
    return 0


def cmd_bounds(args):
    device, cfg = device_of(args), section(args, bounds.BoundsConfig, "bounds")
    outputs = [args.run_dir / "bounds.json", args.run_dir / "bounds.png"]
    refuse_existing(outputs, args.overwrite)
    rundir.check_writable(args.run_dir)
    config, model, guide, data = life.load_run(args.run_dir, device)
    pyro.set_rng_seed(cfg.seed)
    test_images = torch.cat([x for x, *_ in configuration.training_of(config, model, guide, data).batches(
        "test", cfg.batch_size, shuffle=False)])[:cfg.test_images]
    estimates = bounds.compare(model, guide, test_images, cfg.simulated, cfg.iw_samples, cfg.ais_steps,
                               cfg.ais_chains, cfg.leapfrog_steps, cfg.batch_size,
                               report.fitted(evaluate.CHUNK_SIZE, cfg.batch_size, data.image_shape))
    rundir.write_json(outputs[0], estimates)
    plots.save_bounds(outputs[1], estimates, args.run_dir.name)
    print(f"wrote {outputs[0]} and {outputs[1]}")
    return 0


def cmd_sample(args):
    device, cfg = device_of(args), section(args, life.SampleConfig, "sample")
    if life.is_text_run(args.run_dir):
        return print_sentence_samples(args, cfg, device)
    output = Path(cfg.output) if cfg.output else args.run_dir / f"samples-seed{cfg.seed}.png"
    refuse_existing([output], args.overwrite)
    config, model, _, _ = life.load_run(args.run_dir, device, with_data=False)
    figures.require_images(config, args.run_dir)
    torch.manual_seed(cfg.seed)
    life.save_samples(output, model, cfg.label, cfg.n, configuration.data_info(config), device)
    print(f"wrote {output}")
    return 0


def print_sentence_samples(args, cfg, device):
    config, model, _, vocabulary = life.load_text_run(args.run_dir, device)
    max_length = config["image_shape"][0]
    for greedy in (True, False):
        torch.manual_seed(cfg.seed)
        lines = text.sample_sentences(model, vocabulary, cfg.n or 10, max_length, device, cfg.temperature,
                                      greedy)
        print("greedy decoding:" if greedy else f"sampled words, temperature {cfg.temperature}:")
        print("\n".join(f"  {line}" for line in lines))
    return 0


def cmd_reconstruct(args):
    device = device_of(args)
    config, model, guide, vocabulary = life.load_text_run(args.run_dir, device)
    z, note = text.sentence_codes(guide, vocabulary, args.sentences, device)
    if note:
        print(f"note: {note}")
    decoded = text.decoded_sentences(model, vocabulary, z, config["image_shape"][0])
    for sentence, line in zip(args.sentences, decoded):
        print(f"  {sentence}\n-> {line}")
    return 0


def cmd_interpolate(args):
    device = device_of(args)
    config, model, guide, vocabulary = life.load_text_run(args.run_dir, device)
    (a, b), note = text.sentence_codes(guide, vocabulary, [args.first, args.last], device)
    if note:
        print(f"note: {note}")
    steps = section(args, text.InterpolateConfig, "interpolate").steps
    t = torch.linspace(0, 1, steps, device=device).unsqueeze(1)
    decoded = text.decoded_sentences(model, vocabulary, (1 - t) * a + t * b, config["image_shape"][0])
    for weight, line in zip(t.flatten().tolist(), decoded):
        print(f"  {weight:4.2f}  {line}")
    return 0


def cmd_plot(args):
    output = figures.save_plot(args.run_dirs, args.kind, device_of(args), args.pca, args.output)
    print(f"wrote {output}")
    return 0


def cmd_list(args):
    if args.matrix:
        print(matrix.page(matrix.walk(device=device_of(args))))
        return 0
    print("variants (--model NAME: a model with its default guide and scheme):")
    for name, variant in VARIANTS.items():
        scheme = f", scheme: {variant.scheme.name}" if variant.scheme else ""
        print(f"  {name:14s} {variant.summary} [guide: {variant.guide}{scheme}]")
    print("guides (--guide NAME):")
    for name, guide in GUIDES.items():
        print(f"  {name:14s} {guide.summary}")
    print("training schemes (--scheme NAME):")
    for name, scheme in SCHEMES.items():
        print(f"  {name:20s} {scheme.summary}")
    return 0


def tune_malloc():
    """glibc's malloc, set for a process that allocates and frees tensors of tens of MB many times a second: one heap
    ("arena") for all threads, tensors below 32 MB taken from it rather than mapped afresh, and freed memory kept for
    reuse rather than handed back to the kernel. With glibc's defaults, `evaluate --iw-samples 5000` grew to 1.8 GB
    and 6 GB over the 10 000 test images in two runs here, spent a third of its time in the kernel zeroing pages, and
    bench/iwae_eval.py's ratios wandered from 1.1 to 2.0; with these settings it stayed under 0.8 GB and the ratio
    near 1.1. A no-op where the C library is not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8  # from glibc's malloc.h
    libc.mallopt(m_arena_max, 1)
    libc.mallopt(m_mmap_threshold, 32 << 20)
    libc.mallopt(m_trim_threshold, 1 << 30)


def main(argv=None):
    """The command line (argv: its words after the program's name, default sys.argv's), returning the exit status:
    0, or 2 for a refusal of one line; a user's pair that raises is shown with its traceback, under a line saying
    where (status 1); anything else raised is this project's bug, and keeps its traceback."""
    tune_malloc()
    prog = Path(sys.argv[0]).name if argv is None else "run.py"
    argv, args = sys.argv[1:] if argv is None else argv, None
    try:
        args = build_parser(argv, prog).parse_args(argv)
        command = {"list": cmd_list, "train": cmd_train, "evaluate": cmd_evaluate, "bounds": cmd_bounds,
                   "sample": cmd_sample, "reconstruct": cmd_reconstruct, "interpolate": cmd_interpolate,
                   "plot": cmd_plot}[args.command]
        return command(args)
    except BrokenPipeError:  # the reader closed the pipe (ppl-vae list | head): stop quietly, as command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that Python's exit flushes nowhere
        return 141  # the shell's status for a death by SIGPIPE
    except Exception as error:
        command = f"{prog} {args.command if args else argv[0] if argv else ''}".strip()
        frame = user_frame(error)
        if frame is not None:  # a bug in the user's pair: their traceback, headed by where
            print(f"{command}: error in {frame.filename}, in {frame.name} (line {frame.lineno}): "
                  f"{type(error).__name__}: {first_line(error)}", file=sys.stderr)
            traceback.print_exception(error)
            return 1
        if not isinstance(error, (DataError, OSError, ValueError)):  # OSError: a file or folder missing, in the
            raise  # way or not writable
        if distributed.is_lead():  # the other processes of a data-parallel run stop on the same error, silently
            print(f"{command}: error: {error}", file=sys.stderr)  # (the parser is built for a user's pair: a
        return 2  # refusal there)
