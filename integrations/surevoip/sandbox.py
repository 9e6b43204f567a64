from integrations.sandbox import ProviderSandbox


class SureVoIPSandbox(ProviderSandbox):
    name = "surevoip"

    def reset(self) -> None:
        self.data = {}

    def state(self) -> dict:
        return self.data

    def restore(self, state: dict) -> None:
        self.data = state
