"""The parts of the Nerava benchmark; ``bench/run.py`` puts them together."""
