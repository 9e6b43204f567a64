from integrations.sandbox import ProviderSandbox


class FreespeeSandbox(ProviderSandbox):
    name = "freespee"

    def reset(self) -> None:
        self.data = {}

    def state(self) -> dict:
        return self.data

    def restore(self, state: dict) -> None:
        self.data = state
