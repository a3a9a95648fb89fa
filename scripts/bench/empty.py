# Measures: start-up and shut-down of the interpreter — an empty script.
