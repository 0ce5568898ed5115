# Churn-proof SA load (issue 15) on the simulated fabric: a reboot's cost, the spread of
# periodic refreshes, an SA that answers late. Each gets lab_test()'s watchdog.
lab_test(churn_reboot 120 churn_reboot.sh)
lab_test(churn_periodic 120 churn_periodic.sh)
lab_test(churn_sa_late 120 churn_sa_late.sh)
