class RunSteps:
    def __init__(self, num_steps, blocking=True):
        self.num_steps = num_steps
        self.blocking = blocking
