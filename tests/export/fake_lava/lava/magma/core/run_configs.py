class Loihi2SimCfg:
    def __init__(self, custom_sim_model=None, select_tag="floating_pt", select_sub_proc_model=False, exception_proc_model_map=None, loglevel=None):
        self.select_tag = select_tag
