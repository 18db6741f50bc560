"""Transfer-learning helpers over ``keras.applications``."""
