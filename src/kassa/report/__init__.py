"""Month-end report (HTML, XLSX), the terminal summary, and the charts they share with the dashboard."""
