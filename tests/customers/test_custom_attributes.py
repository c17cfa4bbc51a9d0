"""Number columns an import keeps as custom attributes are segmentation features."""

import pytest

from customers.models import CustomAttribute
from customers.selectors import customer_feature_frame, feature_catalogue
from segments.services import run_create, run_execute
from tests.customers.test_imports import MALL, run_import, write

pytestmark = pytest.mark.django_db


def test_a_number_column_becomes_a_feature_with_a_safe_name(tmp_path):
    run_import("customers", write(tmp_path, "mall.csv", MALL))
    attribute = CustomAttribute.objects.get()
    assert (attribute.key, attribute.type, attribute.feature_name) == (
        "Spending Score (1-100)", "number", "attr_spending_score_1_100")
    feature = feature_catalogue()["attr_spending_score_1_100"]
    # pages say it in sentence case; the CSV and the API keep the column and feature names
    assert feature.label == "Spending score (1-100)" and not feature.needs_transactions
    frame = customer_feature_frame(features=["age", "attr_spending_score_1_100"])
    assert frame["attr_spending_score_1_100"].tolist() == [39.0, 81.0, 6.0, 77.0]


def test_a_later_file_reads_the_column_with_the_type_it_first_had(tmp_path):
    run_import("customers", write(tmp_path, "mall.csv", MALL))
    # the same column holding text in a second file is read as a number, and rejected as such
    later = "CustomerID,Spending Score (1-100)\n7,high\n8,55\n"
    job = run_import("customers", write(tmp_path, "later.csv", later))
    assert (job.created, job.rejected) == (1, 1)
    assert job.report["rejected_by_reason"] == {"Spending Score (1-100): not a number": 1}
    assert CustomAttribute.objects.get().type == "number"


def test_text_columns_become_categorical_features(tmp_path):
    run_import("customers", write(tmp_path, "tiers.csv", "CustomerID,Tier\n1,gold\n2,silver\n3,\n"))
    assert CustomAttribute.objects.get().type == "category"
    feature = feature_catalogue()["attr_tier"]
    assert feature.kind == "categorical" and feature.label == "Tier"
    frame = customer_feature_frame(features=["attr_tier"])
    assert frame["attr_tier"].dtype == "category"
    assert frame["attr_tier"].tolist()[:2] == ["gold", "silver"] and frame["attr_tier"].isna().tolist()[2]


def test_segmentation_runs_on_income_and_the_imported_spending_score(tmp_path, api_client, analyst):
    rows = "".join(f"{n},Female,30,{[20, 90][n % 2]},{[10, 90][n // 20 % 2]}\n" for n in range(40))
    run_import("customers", write(tmp_path, "mall.csv", MALL.splitlines()[0] + "\n" + rows),
               units={"annual_income": 1000})
    kinds = {f["name"]: f["kind"] for f in api_client(analyst).get("/api/v1/features/").json()}
    assert kinds["attr_spending_score_1_100"] == "numeric" and kinds["gender"] == "categorical"
    run = run_create(features=["annual_income", "attr_spending_score_1_100"], k=4)
    run_execute(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert sorted(s.size for s in run.segments.all()) == [10, 10, 10, 10]  # the four planted groups
