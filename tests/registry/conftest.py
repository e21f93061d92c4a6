"""Fixtures of the registry tests: small real models of each flavor."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def churn_data():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer(as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.3, random_state=0)
    return X_train, X_test, y_train, y_test


@pytest.fixture(scope="session")
def sk_pipeline(churn_data):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X_train, _, y_train, _ = churn_data
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
