"""KServe's ModelServer serving the benchmark model over V2 (run inside the kserve venv).

Usage: python kserve_server.py MODEL.joblib --http_port P --enable_grpc false --enable_latency_logging false
"""

import sys
import uuid

import joblib
from kserve import InferOutput, InferResponse, Model, ModelServer


class HGB(Model):
    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        self.path = path
        self.load()

    def load(self) -> bool:
        self.model = joblib.load(self.path)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None, response_headers=None):
        X = payload.inputs[0].as_numpy()
        proba = self.model.predict_proba(X)
        label = self.model.classes_.take(proba.argmax(axis=1))
        return InferResponse(
            response_id=payload.id or str(uuid.uuid4()),
            model_name=self.name,
            infer_outputs=[
                InferOutput("label", list(label.shape), "INT64", data=label.tolist()),
                InferOutput("probabilities", list(proba.shape), "FP64", data=proba.ravel().tolist()),
            ],
        )


if __name__ == "__main__":
    ModelServer().start([HGB("hgb", sys.argv[1])])
