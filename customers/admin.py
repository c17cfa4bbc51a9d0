from django.contrib import admin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "gender", "age", "annual_income", "country", "signup_date"]
    search_fields = ["external_id", "email"]
    show_full_result_count = False  # no COUNT(*) over a million customers
