"""Linear-probe benchmark of frozen embeddings on tasks in HEAR's layout, each pretrained model
beside its random-weights twin (docs/embeddings.md).

    python -m benchmarks.probe                                   # the default tasks, rendered here
    python -m benchmarks.probe --tasks=hear-tasks --models=musicnn:mtt,vgg:msd,runs/ft --out=runs/probe

One module per concept: ``tasks`` (reading the HEAR layout), ``default_tasks`` (the task set the
probe renders offline), ``models`` (model names and their random twins), ``embeddings`` (scene
embeddings, cached per model and task), ``classifiers`` (HEAR's MLP, logistic regression, the
metrics), ``evaluation`` (rounds and seeds), ``report`` (scores.csv, results.md).
"""
